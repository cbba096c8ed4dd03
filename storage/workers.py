"""The worker registry: every worker's host, labels, hardware fingerprint and library versions.

Rows are written at start and by heartbeats; a worker is alive while its heartbeat is recent. The
catalogue's library versions are recorded once, by the first worker that serves it.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.records import WorkerRecord
from storage.tables import CatalogueInfo, Job, Worker, utcnow

ALIVE_S = 15.0


def register(session: Session, worker_id: str, pid: int, host: str, labels: list[str], fingerprint: str,
             versions: dict[str, Any], note: str | None) -> None:
    row = session.get(Worker, worker_id) or Worker(id=worker_id)
    row.pid, row.host, row.labels, row.fingerprint, row.versions, row.note = pid, host, labels, fingerprint, versions, note
    row.heartbeat_at = utcnow()
    session.add(row)


def list_workers(session: Session, alive_only: bool = True) -> list[WorkerRecord]:
    query = select(Worker).order_by(Worker.host, Worker.id)
    if alive_only:
        query = query.where(Worker.heartbeat_at >= utcnow() - timedelta(seconds=ALIVE_S))
    rows = session.scalars(query).all()
    running = dict(session.execute(select(Job.worker, Job.id).where(Job.status == "running")).all())
    return [WorkerRecord(id=r.id, host=r.host, pid=r.pid, labels=list(r.labels or []), fingerprint=r.fingerprint,
                         versions=dict(r.versions or {}), note=r.note, started_at=r.started_at,
                         heartbeat_at=r.heartbeat_at, job=running.get(r.id)) for r in rows]


def catalogue_versions(session: Session, proposed: dict[str, Any]) -> dict[str, Any]:
    """The library versions the catalogue was built with; ``proposed`` becomes them if none are recorded."""
    row = session.get(CatalogueInfo, "versions")
    if row is not None:
        return dict(row.value)
    try:
        with session.begin_nested():
            session.add(CatalogueInfo(key="versions", value=proposed))
    except IntegrityError:  # another worker recorded them first
        return dict(session.get(CatalogueInfo, "versions").value)
    return dict(proposed)


def set_catalogue_versions(session: Session, versions: dict[str, Any]) -> None:
    row = session.get(CatalogueInfo, "versions")
    if row is None:
        session.add(CatalogueInfo(key="versions", value=versions))
    else:
        row.value = versions
