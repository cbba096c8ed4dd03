"""Job claims, leases and the reaper on both backends, with real competing processes."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

from storage import jobs as jobstore
from storage import migrate
from storage.db import reset_engines, session_scope


def _claimer(env: dict[str, str], name: str, job_ids: list[int], queue) -> None:  # noqa: ANN001
    os.environ.update(env)
    reset_engines()
    won = []
    for job_id in job_ids:
        with session_scope() as s:
            if jobstore.claim(s, job_id, name):
                won.append(job_id)
    queue.put((name, won))


def test_four_processes_racing_for_the_same_jobs_claim_each_exactly_once(db_home: Path) -> None:
    migrate.upgrade()
    with session_scope() as s:
        ids = [jobstore.create_job(s, "export", {"n": i}, timeout_s=60).id for i in range(150)]
    env = {k: v for k, v in os.environ.items() if k.startswith("TRIMLINE_")}
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(env, f"w{i}", ids, queue)) for i in range(4)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    claimed = [job_id for won in results.values() for job_id in won]
    assert sorted(claimed) == ids  # every job claimed, none twice
    with session_scope() as s:
        rows = jobstore.list_jobs(s, limit=500)
    assert all(r.status == "running" and r.attempts == 1 for r in rows)
    assert {r.id: r.worker for r in rows} == {job_id: name for name, won in results.items() for job_id in won}


def test_expired_lease_is_requeued_then_failed_when_attempts_run_out(db_home: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRIMLINE_LEASE_S", "0.2")
    migrate.upgrade()
    with session_scope() as s:
        job = jobstore.create_job(s, "export", {}, timeout_s=60, max_attempts=2)
    with session_scope() as s:
        assert jobstore.claim(s, job.id, "a")
    with session_scope() as s:
        assert not jobstore.claim(s, job.id, "b")  # running: nobody else gets it
        assert jobstore.reap_expired(s) == []  # the lease still holds
    time.sleep(0.3)
    with session_scope() as s:
        assert jobstore.reap_expired(s) == [job.id]
        assert jobstore.get_job(s, job.id).status == "queued"
    with session_scope() as s:
        assert jobstore.claim(s, job.id, "b")
        assert not jobstore.finish(s, job.id, "a", "succeeded")  # the first worker lost it
    time.sleep(0.3)
    with session_scope() as s:
        assert jobstore.reap_expired(s) == [job.id]
        final = jobstore.get_job(s, job.id)
    assert final.status == "failed" and final.attempts == 2
    assert "stopped responding 2 time(s)" in final.error
