"""Submitting, waiting for and cancelling jobs; the worker loop. Shared by the dashboard and the CLI."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any, Callable

from engine.errors import JobFailedError, NotFoundError
from engine.jobs import queue
from storage import jobs as jobstore
from storage import migrate
from storage.db import session_scope
from storage.records import JobRecord
from storage.settings import get_settings

log = logging.getLogger("trimline.jobs")

DEFAULT_TIMEOUTS = {"import": 900, "dataset_import": 900, "optimize": 3600, "recipe": 7200,
                    "benchmark": 1800, "ab_compare": 900, "evaluate": 1800, "export": 900}


def submit(kind: str, params: dict[str, Any], timeout_s: float | None = None) -> JobRecord:
    """Write a queued job row, then wake a worker."""
    timeout = timeout_s or min(DEFAULT_TIMEOUTS.get(kind, 3600), get_settings().job_timeout_s)
    with session_scope() as s:
        job = jobstore.create_job(s, kind, params, timeout_s=timeout)
    try:
        queue.enqueue(job.id)
    except Exception as exc:  # the row is the truth; a worker sweep or the CLI will still run it
        log.warning("could not enqueue job %s: %s", job.id, exc)
    return job


def get(job_id: int) -> JobRecord:
    with session_scope() as s:
        job = jobstore.get_job(s, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job


def worker_alive() -> bool:
    with session_scope() as s:
        return bool(jobstore.live_workers(s))


def reap_and_requeue() -> list[int]:
    """Expire dead workers' leases; wake a worker for each re-queued job."""
    with session_scope() as s:
        touched = jobstore.reap_expired(s)
        requeued = [j for j in touched if jobstore.get_job(s, j).status == "queued"]
    for job_id in requeued:
        queue.enqueue(job_id)
    return touched


def wait(job_id: int, timeout_s: float | None = None, on_update: Callable[[JobRecord], None] | None = None,
         run_inline: bool = True) -> JobRecord:
    """Wait for a job to end. With no live worker, run it here through the same sandboxed runner.

    Raises JobFailedError with the job's error when it fails or is cancelled.
    """
    from engine.jobs.runner import run_job

    deadline = time.monotonic() + timeout_s if timeout_s else None
    last = None
    while True:
        job = get(job_id)
        if on_update and (last is None or (job.progress, job.message, job.status) != last):
            on_update(job)
            last = (job.progress, job.message, job.status)
        if job.done:
            break
        if job.status == "queued" and run_inline and not worker_alive():
            run_job(job_id)
            continue
        if job.status == "running" and job.lease_until is not None:
            reap_and_requeue()
        if deadline and time.monotonic() > deadline:
            raise JobFailedError(f"job {job_id} did not finish within {timeout_s:.0f} s; it is still {job.status}")
        time.sleep(0.3)
    if job.status != "succeeded":
        raise JobFailedError(job.error or f"job {job_id} ended {job.status}")
    return job


def cancel(job_id: int) -> JobRecord:
    with session_scope() as s:
        job = jobstore.request_cancel(s, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job


def job_log(job_id: int, tail_bytes: int = 20_000) -> str:
    path = get_settings().log_dir / f"job-{int(job_id)}.log"
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - tail_bytes))
        return fh.read().decode("utf-8", "replace")


def run_worker(threads: int = 1, stop: threading.Event | None = None) -> None:
    """A worker: migrate, announce itself, reap expired leases, then consume the queue until stopped."""
    migrate.upgrade()
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    stop = stop or threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                with session_scope() as s:
                    jobstore.worker_beat(s, worker_id, os.getpid(), socket.gethostname())
            except Exception as exc:  # keep beating through a transient lock or disk hiccup
                log.warning("worker heartbeat failed: %s", exc)
            stop.wait(3.0)

    threading.Thread(target=beat, name="trimline-worker-beat", daemon=True).start()
    reap_and_requeue()
    with session_scope() as s:
        pending = jobstore.queued_ids(s)
    for job_id in pending:  # jobs queued while no worker ran (their queue message may be gone)
        queue.enqueue(job_id)
    consumer = queue.get_huey().create_consumer(workers=threads, worker_type="thread", periodic=True,
                                                 initial_delay=0.1, max_delay=1.0, backoff=1.15)
    try:
        consumer.run()
    finally:
        stop.set()
        with session_scope() as s:
            jobstore.worker_gone(s, worker_id)
