"""Following background work: one job, waiting for it, cancelling it, its log."""
from __future__ import annotations

from typing import Callable

from engine.actor import require
from engine.api.common import ready
from engine.jobs import service
from storage.records import JobRecord


def get_job(job_id: int) -> JobRecord:
    """The job, or NotFoundError "job N does not exist"."""
    ready()
    return service.get(job_id)


def cancel_job(job_id: int) -> JobRecord:
    """Cancel a queued job at once, or ask a running one to stop; NotFoundError for an unknown id."""
    require("engineer", "cancel jobs")
    ready()
    return service.cancel(job_id)


def job_log(job_id: int, tail_bytes: int = 20_000) -> str:
    """The last ``tail_bytes`` of what the job printed ("" before it has started)."""
    ready()
    return service.job_log(job_id, tail_bytes)


def wait_job(job_id: int, timeout_s: float | None = None, on_update: Callable[[JobRecord], None] | None = None,
             run_inline: bool = True) -> JobRecord:
    """Wait for a job to end; with no live worker (and ``run_inline``) run it here through the same
    sandboxed runner. Raises JobFailedError with the job's error when it fails or is cancelled."""
    ready()
    return service.wait(job_id, timeout_s=timeout_s, on_update=on_update, run_inline=run_inline)


def worker_alive() -> bool:
    """Whether some worker announced itself in the last few seconds."""
    ready()
    return service.worker_alive()
