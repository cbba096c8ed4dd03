"""Reading the jobs table for people: filtered by kind, status and model family, a page at a time."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.jobs import _job
from storage.records import JobRecord
from storage.tables import Job, Model


def _filtered(query, kinds: list[str] | None, statuses: list[str] | None, root_id: int | None):  # noqa: ANN001
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    if statuses:
        query = query.where(Job.status.in_(statuses))
    if root_id is not None:
        family = select(Model.id).where(Model.root_id == root_id)
        query = query.where(or_(Job.params["model_id"].as_integer().in_(family),
                                Job.result["model_id"].as_integer().in_(family)))
    return query


def find_jobs(session: Session, kinds: list[str] | None = None, statuses: list[str] | None = None,
              root_id: int | None = None, offset: int = 0, limit: int = 50) -> tuple[list[JobRecord], int]:
    """One page of jobs, newest first, and how many match in all."""
    total = session.scalar(_filtered(select(func.count()).select_from(Job), kinds, statuses, root_id)) or 0
    rows = session.scalars(_filtered(select(Job), kinds, statuses, root_id)
                           .order_by(Job.id.desc()).offset(offset).limit(limit))
    return [_job(r) for r in rows], total
