"""Job rows: the single source of truth for background work.

Claiming is a conditional UPDATE (``status='queued'``): inside SQLite's ``BEGIN IMMEDIATE``, and on
PostgreSQL under READ COMMITTED, where a second UPDATE of the same row waits for the first and then
re-checks the condition. Either way two workers can never both run a job. Leases are extended by heartbeats; the reaper re-queues
or fails jobs whose lease expired (their worker died: huey will not re-run that task itself).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.records import JobRecord
from storage.settings import get_settings
from storage.tables import Job, Worker, utcnow

WORKER_ALIVE_S = 15.0


def lease_s() -> float:
    """How long a claim holds without a heartbeat (workers beat every few seconds)."""
    return get_settings().lease_s


def _job(row: Job) -> JobRecord:
    return JobRecord(
        id=row.id, kind=row.kind, status=row.status, params=row.params or {}, result=row.result, error=row.error,
        progress=row.progress, message=row.message, attempts=row.attempts, max_attempts=row.max_attempts,
        timeout_s=row.timeout_s, worker=row.worker, lease_until=row.lease_until,
        cancel_requested=row.cancel_requested, created_at=row.created_at, started_at=row.started_at,
        finished_at=row.finished_at, target=row.target, submitted_by=row.submitted_by,
    )


def create_job(session: Session, kind: str, params: dict[str, Any], timeout_s: float, max_attempts: int = 2,
               target: str | None = None, submitted_by: str | None = None) -> JobRecord:
    row = Job(kind=kind, params=params, timeout_s=timeout_s, max_attempts=max_attempts, status="queued", target=target,
              submitted_by=submitted_by)
    session.add(row)
    session.flush()
    return _job(row)


def get_job(session: Session, job_id: int) -> JobRecord | None:
    row = session.get(Job, job_id)
    return _job(row) if row else None


def list_jobs(session: Session, limit: int = 200, status: str | None = None, oldest_first: bool = False) -> list[JobRecord]:
    query = select(Job).order_by(Job.id if oldest_first else Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    return [_job(r) for r in session.scalars(query)]


def claim(session: Session, job_id: int, worker: str) -> bool:
    """Atomically move a queued job to running under ``worker``. False if someone else has it."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", worker=worker, lease_until=now + timedelta(seconds=lease_s()),
                started_at=now, attempts=Job.attempts + 1, error=None)
    )
    return result.rowcount == 1


def heartbeat(session: Session, job_id: int, worker: str) -> bool:
    """Extend the lease. Returns whether cancellation was requested."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.status == "running")
        .values(lease_until=utcnow() + timedelta(seconds=lease_s()))
    )
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def set_progress(session: Session, job_id: int, progress: float, message: str) -> None:
    session.execute(
        update(Job).where(Job.id == job_id, Job.status == "running")
        .values(progress=min(max(float(progress), 0.0), 1.0), message=message[:300])
    )


def finish(session: Session, job_id: int, worker: str | None, status: str, *, result: dict[str, Any] | None = None,
           error: str | None = None) -> bool:
    """End a running job; no-op (False) when this worker no longer owns it."""
    query = update(Job).where(Job.id == job_id, Job.status == "running")
    if worker is not None:
        query = query.where(Job.worker == worker)
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "lease_until": None, "error": error}
    if result is not None:
        values["result"] = result
    if status == "succeeded":
        values.update(progress=1.0, message="done")
    return session.execute(query.values(**values)).rowcount == 1


def release(session: Session, job_id: int, worker: str, reason: str) -> bool:
    """Hand a running job back to the queue (its worker is stopping); the attempt does not count."""
    return session.execute(
        update(Job).where(Job.id == job_id, Job.status == "running", Job.worker == worker)
        .values(status="queued", worker=None, lease_until=None, attempts=Job.attempts - 1, progress=0.0,
                message=f"re-queued: {reason}")
    ).rowcount == 1


def request_cancel(session: Session, job_id: int) -> JobRecord | None:
    """Cancel a queued job at once; ask a running one to stop (its worker kills the child)."""
    row = session.get(Job, job_id)
    if row is None:
        return None
    if row.status == "queued":
        row.status, row.finished_at, row.error = "cancelled", utcnow(), "cancelled before it started"
    elif row.status == "running":
        row.cancel_requested = True
    session.flush()
    return _job(row)


def reap_expired(session: Session) -> list[int]:
    """Re-queue (within the attempt budget) or fail running jobs whose lease has expired."""
    now = utcnow()
    # SKIP LOCKED: two reapers on PostgreSQL never handle the same row twice (SQLite ignores it; its
    # BEGIN IMMEDIATE already serialises writers).
    rows = session.scalars(select(Job).where(Job.status == "running", Job.lease_until < now)
                           .with_for_update(skip_locked=True)).all()
    touched = []
    for row in rows:
        if row.cancel_requested:
            row.status, row.error = "cancelled", "cancelled; its worker stopped before confirming"
            row.finished_at = now
        elif row.attempts < row.max_attempts:
            row.status, row.worker, row.lease_until = "queued", None, None
            row.message = f"re-queued after its worker stopped responding (attempt {row.attempts})"
        else:
            row.status, row.finished_at, row.lease_until = "failed", now, None
            row.error = f"its worker stopped responding {row.attempts} time(s); giving up"
        touched.append(row.id)
    session.flush()
    return touched


def has_expired_leases(session: Session) -> bool:
    return session.scalar(select(Job.id).where(Job.status == "running", Job.lease_until < utcnow()).limit(1)) is not None


def active_jobs(session: Session) -> list[JobRecord]:
    """Queued and running jobs (what the housekeeper must not touch)."""
    return [_job(r) for r in session.scalars(select(Job).where(Job.status.in_(("queued", "running"))))]


def queued_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.id)))


def worker_beat(session: Session, worker_id: str, pid: int, host: str) -> None:
    row = session.get(Worker, worker_id)
    if row is None:
        session.add(Worker(id=worker_id, pid=pid, host=host))
    else:
        row.heartbeat_at = utcnow()


def worker_gone(session: Session, worker_id: str) -> None:
    row = session.get(Worker, worker_id)
    if row is not None:
        session.delete(row)


def live_workers(session: Session) -> list[str]:
    cutoff = utcnow() - timedelta(seconds=WORKER_ALIVE_S)
    return list(session.scalars(select(Worker.id).where(Worker.heartbeat_at >= cutoff)))
