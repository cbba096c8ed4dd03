"""Plugs pulled mid-job: SIGKILL of the child, the worker and the dashboard, SIGTERM of a worker, Ctrl-C
of a CLI import, and a write lock held longer than SQLite's busy timeout."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.faults.conftest import assert_consistent, cli, env_for, jobs, spawn, wait_for

pytestmark = pytest.mark.xdist_group("faults")
SLOW = ("--time-budget", "15")  # one benchmark cell that keeps its child busy long enough to be interrupted


def _submit_benchmark(home: Path, model_id: int, *extra: str) -> subprocess.Popen:
    return spawn(home, "benchmark", str(model_id), *SLOW, *extra)


def _queue_benchmark(home: Path, model_id: int) -> int:
    """Queue a slow benchmark without waiting for it (so only a worker runs it)."""
    code = f"from engine import api; print(api.submit_benchmark({model_id}, {{'time_budget_s': 15}}).id)"
    run = subprocess.run([os.sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env_for(home),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return int(run.stdout.split()[-1])


def _running(home: Path) -> bool:
    return any(j["status"] == "running" for j in jobs(home))


def _worker_up(home: Path) -> bool:
    try:
        with sqlite3.connect(home / "trimline.db") as db:
            return db.execute("SELECT count(*) FROM workers").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _children(pid: int, needle: str) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if needle in " ".join(p.cmdline())]


def test_sigkilled_child_is_reported_as_killed_not_as_a_damaged_file(imported: tuple[Path, int]) -> None:
    # before: "the model file is damaged (its parser crashed with SIGKILL)"
    home, model_id = imported
    bench = _submit_benchmark(home, model_id)
    wait_for(lambda: _running(home) and _children(bench.pid, "engine.jobs.child"), what="the job's child")
    for child in _children(bench.pid, "engine.jobs.child"):
        child.kill()
    _, err = bench.communicate(timeout=60)
    assert bench.returncode == 1 and "killed (SIGKILL) from outside" in err and "damaged" not in err
    assert_consistent(home)


def test_ctrl_c_on_a_cli_job_leaves_nothing(imported: tuple[Path, int]) -> None:
    home, model_id = imported
    bench = _submit_benchmark(home, model_id)
    # the job's child running: the CLI is past its start and watching it (a signal in the first instants of a
    # process can land before its handler is in place)
    wait_for(lambda: _running(home) and _children(bench.pid, "engine.jobs.child"), what="the job's child")
    bench.send_signal(signal.SIGINT)
    out, err = bench.communicate(timeout=60)
    assert bench.returncode == 1 and err.strip().endswith("error: interrupted"), (bench.returncode, out, err)
    assert jobs(home)[-1]["status"] == "cancelled"
    assert_consistent(home)


def test_worker_sigterm_hands_its_running_job_back(imported: tuple[Path, int]) -> None:
    # before: the job stayed "running" after `trimline up` stopped its worker
    home, model_id = imported
    worker = spawn(home, "worker")
    try:
        wait_for(lambda: _worker_up(home), timeout_s=90, what="the worker to announce itself")
        job_id = _queue_benchmark(home, model_id)
        wait_for(lambda: _running(home), timeout_s=90, what="the worker to start the job")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        job = jobs(home)[-1]
        assert job["id"] == job_id and job["status"] == "queued" and job["attempts"] == 0, job
    finally:
        worker.kill()
    assert cli(home, "cancel", str(job_id)).returncode == 0
    assert_consistent(home)


def test_sigkilled_worker_job_is_requeued_by_the_next_cli_call(imported: tuple[Path, int]) -> None:
    # before: with no live worker the job stayed "running" forever
    home, model_id = imported
    worker = spawn(home, "worker", TRIMLINE_LEASE_S="2")
    try:
        wait_for(lambda: _worker_up(home), timeout_s=90, what="the worker to announce itself")
        job_id = _queue_benchmark(home, model_id)
        wait_for(lambda: _running(home), timeout_s=90, what="the worker to start the job")
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and (by its death signal) the job's child
        worker.wait()
        time.sleep(2.5)  # the lease runs out
        listed = json.loads(cli(home, "jobs", "--json", TRIMLINE_LEASE_S="2").stdout)
        job = next(j for j in listed if j["id"] == job_id)
        assert job["status"] == "queued" and "re-queued" in job["message"], job
    finally:
        worker.kill()
    assert cli(home, "cancel", str(job_id)).returncode == 0
    time.sleep(11)  # older than the sweeper's grace
    assert cli(home, "jobs").returncode == 0  # any CLI call sweeps
    assert_consistent(home)


def test_heartbeats_and_the_end_survive_a_lock_longer_than_the_busy_timeout(home: Path, tiny_onnx: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # before: "database is locked" on a heartbeat failed the running job (a 40 s lock against a 30 s timeout);
    # here the busy timeout is 0.5 s and the lock 5 s: the same shape, ten times shorter
    from engine import api
    from engine.jobs.runner import run_job
    from storage.db import reset_engines

    monkeypatch.setenv("TRIMLINE_BUSY_TIMEOUT_S", "0.5")
    reset_engines()
    job = api.submit_import(tiny_onnx)
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(run_job(job.id)))
    lock_released = threading.Event()
    with sqlite3.connect(home / "trimline.db", isolation_level=None, timeout=30) as holder:
        holder.execute("BEGIN EXCLUSIVE")  # held before the claim: the claim, heartbeats and the end all wait
        runner.start()
        time.sleep(5)
        assert api.list_jobs()[0].status == "queued"  # reads go on under the lock
        holder.execute("COMMIT")
        lock_released.set()
    runner.join(timeout=120)
    assert outcome and outcome[0].status == "succeeded", outcome
    assert_consistent(home)


def test_killing_the_dashboard_under_up_loses_no_job(imported: tuple[Path, int]) -> None:
    # before: the dashboard's death stopped the worker and left its job "running"
    from tests.servers import free_port

    home, model_id = imported
    port = free_port()
    up = subprocess.Popen([os.sys.executable, "-m", "engine.cli", "up", "--port", str(port)], cwd=Path.cwd(),
                          env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, timeout_s=120, what="the dashboard")
        wait_for(lambda: _worker_up(home), timeout_s=90, what="the worker to announce itself")
        bench = _submit_benchmark(home, model_id, "--time-budget", "4")
        wait_for(lambda: _running(home), timeout_s=90, what="the worker to start the job")
        dashboard = _children(up.pid, "streamlit")[0]
        dashboard.kill()
        _, err = bench.communicate(timeout=180)
        assert bench.returncode == 0, err
        assert jobs(home)[-1]["status"] == "succeeded"
        wait_for(healthy, timeout_s=120, what="the dashboard to be started again")
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        up.wait(timeout=60)
    assert "the dashboard stopped" in up.stderr.read()
    assert_consistent(home)
