"""Measurements (benchmarks, evaluations) and the hardware they were taken on."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.records import HardwareRecord, MeasurementRecord, fingerprint_of
from storage.tables import Hardware, Measurement


def _measurement(row: Measurement) -> MeasurementRecord:
    return MeasurementRecord(
        id=row.id, model_id=row.model_id, job_id=row.job_id, hardware_id=row.hardware_id,
        dataset_id=row.dataset_id, kind=row.kind, runtime=row.runtime, summary=row.summary or {},
        created_at=row.created_at, samples=row.samples or {},
    )


def _hardware(row: Hardware) -> HardwareRecord:
    return HardwareRecord(id=row.id, fingerprint=row.fingerprint, cpu=row.cpu, cores=row.cores, details=row.details)


def upsert_hardware(session: Session, cpu: str, cores: int, details: dict[str, Any]) -> HardwareRecord:
    fingerprint = fingerprint_of(cpu, cores, details)
    row = session.scalar(select(Hardware).where(Hardware.fingerprint == fingerprint))
    if row is None:
        row = Hardware(fingerprint=fingerprint, cpu=cpu, cores=cores, details=details)
        session.add(row)
    else:
        row.details = {**row.details, **details}
    session.flush()
    return _hardware(row)


def get_hardware(session: Session, hardware_id: int) -> HardwareRecord | None:
    row = session.get(Hardware, hardware_id)
    return _hardware(row) if row else None


def add_measurement(session: Session, **fields: Any) -> MeasurementRecord:
    row = Measurement(**fields)
    session.add(row)
    session.flush()
    return _measurement(row)


def list_measurements(
    session: Session, model_id: int | None = None, kind: str | None = None, hardware_id: int | None = None
) -> list[MeasurementRecord]:
    query = select(Measurement).order_by(Measurement.id)
    if model_id is not None:
        query = query.where(Measurement.model_id == model_id)
    if kind is not None:
        query = query.where(Measurement.kind == kind)
    if hardware_id is not None:
        query = query.where(Measurement.hardware_id == hardware_id)
    return [_measurement(r) for r in session.scalars(query)]


def latest_measurement(session: Session, model_id: int, kind: str,
                       exclude_runtime: str | None = None) -> MeasurementRecord | None:
    """The newest measurement of ``kind``; ``exclude_runtime`` skips one runtime (``server-http`` load tests
    time a whole server, not a session, so session-level comparisons leave them out)."""
    query = select(Measurement).where(Measurement.model_id == model_id, Measurement.kind == kind)
    if exclude_runtime is not None:
        query = query.where((Measurement.runtime.is_(None)) | (Measurement.runtime != exclude_runtime))
    row = session.scalar(query.order_by(Measurement.id.desc()).limit(1))
    return _measurement(row) if row else None
