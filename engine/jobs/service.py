"""Submitting, waiting for and cancelling jobs, and reading their logs. ``engine.api`` calls these."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from engine.actor import current_actor, require_for_job
from engine.errors import InputError, JobFailedError, validation_sentence
from engine.jobs import queue
from engine.jobs.uploads import discard_upload
from engine.lookup import job_or_raise
from storage import jobs as jobstore
from storage.db import read_scope, session_scope
from storage.records import JobRecord
from storage.settings import get_settings

log = logging.getLogger("trimline.jobs")

DEFAULT_TIMEOUTS = {"import": 900, "dataset_import": 900, "optimize": 3600, "recipe": 7200,
                    "benchmark": 1800, "ab_compare": 900, "evaluate": 1800, "export": 900,
                    "auto": 7200, "loadtest": 3600}


def submit(kind: str, params: BaseModel | dict[str, Any], timeout_s: float | None = None,
           target: str | None = None) -> JobRecord:
    """Write a queued job row, then wake a worker. ``target``: only a worker with that label, host or
    fingerprint may run it.

    ``params`` follow the kind's contract (``engine.jobs.contracts``); a dict is validated against it here,
    once. Raises InputError naming the first problem."""
    from engine.jobs.kinds import KINDS

    if kind not in KINDS:
        raise InputError(f"unknown job kind '{kind}'; known kinds: {', '.join(sorted(KINDS))}")
    require_for_job(kind)  # the signed-in account's role, checked here whatever the page showed
    model = KINDS[kind].params
    if not isinstance(params, model):
        try:
            params = model.model_validate(params)
        except ValidationError as exc:
            raise InputError(validation_sentence(exc, f"the {kind} job")) from None
    timeout = timeout_s or min(DEFAULT_TIMEOUTS.get(kind, 3600), get_settings().job_timeout_s)
    with session_scope() as s:
        job = jobstore.create_job(s, kind, params.model_dump(mode="json", by_alias=True), timeout_s=timeout,
                                  target=target, submitted_by=current_actor())
    try:
        queue.enqueue(job.id)
    except Exception as exc:  # the row is the truth; a worker sweep or the CLI will still run it
        log.warning("could not enqueue job %s: %s", job.id, exc)
    return job


def get(job_id: int) -> JobRecord:
    with read_scope() as s:
        return job_or_raise(s, job_id)


def worker_alive() -> bool:
    with read_scope() as s:
        return bool(jobstore.live_workers(s))


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
        if job.status == "queued" and run_inline and not job.target and not worker_alive():
            run_job(job_id)
            continue
        if job.status == "running" and job.lease_until is not None:
            queue.reap_and_requeue()
        if deadline and time.monotonic() > deadline:
            raise JobFailedError(f"job {job_id} did not finish within {timeout_s:.0f} s; it is still {job.status}")
        time.sleep(0.3)
    if job.status != "succeeded":
        raise JobFailedError(job.error or f"job {job_id} ended {job.status}")
    return job


def cancel(job_id: int) -> JobRecord:
    with session_scope() as s:
        job_or_raise(s, job_id)
        job = jobstore.request_cancel(s, job_id)
    discard_upload(job)
    return job



def job_log(job_id: int, tail_bytes: int = 20_000) -> str:
    path = get_settings().log_dir / f"job-{int(job_id)}.log"
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - tail_bytes))
        return fh.read().decode("utf-8", "replace")
