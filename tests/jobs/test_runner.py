"""The job lifecycle on real processes: timeouts, cancellation, crashes and dead workers.

The demo job (training the digits CNN in the child, ~10 s) is the real workload used to drive
every failure mode; no job kind exists for testing only. The lifecycle runs on SQLite and on PostgreSQL
(``db_home``); a worker killed mid-job is covered on PostgreSQL by the several-hosts test.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from engine.jobs import service
from engine.jobs.runner import run_job
from storage import catalog, migrate
from storage.db import session_scope
from tests.servers import Workers, wait_for

pytestmark = pytest.mark.xdist_group("jobs")


def _child_processes() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True)
            if "engine.jobs.child" in " ".join(p.cmdline())]


def _store_files(home: Path) -> list[Path]:
    store = home / "artifacts"
    return [p for p in store.rglob("*") if p.is_file()] if store.exists() else []


def _model_count() -> int:
    with session_scope() as s:
        return catalog.count_models(s)


def test_job_over_its_time_limit_fails_and_its_process_group_is_killed(db_home: Path) -> None:
    migrate.upgrade()
    job = service.submit("demo", {}, timeout_s=1.5)
    final = run_job(job.id)
    assert final.status == "failed"
    assert "longer than its limit of 2 s" in final.error
    assert _child_processes() == []
    assert _model_count() == 0 and _store_files(db_home) == []


def test_cancel_stops_a_running_job(db_home: Path) -> None:
    migrate.upgrade()
    job = service.submit("demo", {})
    thread = threading.Thread(target=run_job, args=(job.id,))
    thread.start()
    wait_for(_child_processes, what="the job's child process")
    service.cancel(job.id)
    thread.join(timeout=30)
    final = service.get(job.id)
    assert final.status == "cancelled"
    assert final.error == "cancelled by request"
    assert _child_processes() == []
    assert _model_count() == 0


def test_cancel_of_a_queued_job_is_immediate(db_home: Path) -> None:
    migrate.upgrade()
    job = service.submit("demo", {})
    assert service.cancel(job.id).status == "cancelled"
    assert run_job(job.id).status == "cancelled"  # a late worker cannot claim it


def test_sigkilled_child_fails_the_job_with_a_sentence_and_stores_nothing(db_home: Path) -> None:
    migrate.upgrade()
    job = service.submit("demo", {})
    thread = threading.Thread(target=run_job, args=(job.id,))
    thread.start()
    child = wait_for(_child_processes, what="the job's child process")[0]
    time.sleep(1.0)
    child.send_signal(signal.SIGKILL)
    thread.join(timeout=30)
    final = service.get(job.id)
    assert final.status == "failed"
    assert "killed (SIGKILL)" in final.error
    assert _model_count() == 0 and _store_files(db_home) == []


def test_job_over_its_memory_limit_is_stopped(db_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMLINE_JOB_MEMORY_MB", "120")  # importing TensorFlow alone needs more
    migrate.upgrade()
    final = run_job(service.submit("demo", {}).id)
    assert final.status == "failed"
    assert "more than its limit of 120 MB" in final.error


def test_real_worker_runs_a_job_and_a_killed_worker_job_is_requeued_and_finished(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMLINE_LEASE_S", "4")
    migrate.upgrade()
    workers = Workers()
    worker = workers.start(home, env={"TRIMLINE_LEASE_S": "4"})
    try:
        job = service.submit("demo", {})
        wait_for(lambda: service.get(job.id).status == "running", what="the worker to claim the job")
        worker_ps = psutil.Process(worker.pid)
        grandchildren = wait_for(lambda: [p for p in worker_ps.children(recursive=True)
                                           if "engine.jobs.child" in " ".join(p.cmdline())], what="child")
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies mid-job, without any chance to clean up
        worker.wait()
        wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in grandchildren),
                  timeout=10, what="the orphaned child to die")
        # No worker is alive any more: the reaper re-queues the job when its lease expires, then it runs here.
        final = service.wait(job.id, timeout_s=180)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        workers.stop()
    assert final.status == "succeeded"
    assert final.attempts == 2
    assert _model_count() == 1

    worker = workers.start(home)  # and a healthy worker runs jobs end to end
    try:
        job = service.submit("export", {"model_id": final.result["model_id"], "format": "keras"})
        done = service.wait(job.id, timeout_s=120, run_inline=False)
        assert done.status == "succeeded" and done.worker and str(worker.pid) in done.worker
    finally:
        workers.stop()
