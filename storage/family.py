"""Queries that read a whole model family at once, paged and aggregated in SQL: a family of a thousand
variants and a hundred thousand measurements is read in a handful of statements, never row by row."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from storage.records import MeasurementRecord
from storage.tables import Dataset, Hardware, Measurement, Model

# The columns a list or a chart needs; the heavy JSON (op histograms, signatures) stays in the database.
_SLIM = (Model.id, Model.name, Model.format, Model.parent_id, Model.root_id, Model.pass_name, Model.size_bytes,
         Model.params, Model.flops, Model.created_at, Model.tags, Model.archived,
         Model.metrics[("trained_on_dataset", "id")].as_integer().label("trained_on"),
         Model.info["flops_at"].label("flops_at"))  # the sizes FLOPs were counted at, for a model of open sizes


def _slim(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "format": row.format, "parent_id": row.parent_id,
            "root_id": row.root_id or row.id, "pass": row.pass_name, "size_bytes": row.size_bytes,
            "params": row.params, "flops": row.flops, "created_at": row.created_at.isoformat(timespec="seconds") + "Z",
            "tags": list(row.tags or []), "archived": bool(row.archived), "trained_on": row.trained_on,
            "flops_at": row.flops_at or None}


def family_rows(session: Session, root_id: int | None = None, search: str = "", include_archived: bool = True,
                offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Slim rows of one family (or every model), oldest first; ``search`` matches name, pass, id or tag."""
    query = select(*_SLIM).order_by(Model.id)
    if root_id is not None:
        query = query.where(Model.root_id == root_id)
    if not include_archived:
        query = query.where(Model.archived.is_(False))
    if search.strip():
        needle = f"%{search.strip().lower()}%"
        query = query.where(or_(func.lower(Model.name).like(needle), func.lower(Model.pass_name).like(needle),
                                cast(Model.id, String) == search.strip().lstrip("#"),
                                func.lower(cast(Model.tags, String)).like(needle)))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_slim(r) for r in session.execute(query)]


def count_family(session: Session, root_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Model).where(Model.root_id == root_id)) or 0


def roots(session: Session) -> list[dict[str, Any]]:
    """Every family head (upload), newest first, with its variant count."""
    counts = dict(session.execute(select(Model.root_id, func.count()).group_by(Model.root_id)).all())
    rows = session.execute(select(*_SLIM).where(Model.parent_id.is_(None)).order_by(Model.id.desc()))
    return [{**_slim(r), "variants": counts.get(r.id, 1)} for r in rows]


def _record(row: Any) -> MeasurementRecord:
    return MeasurementRecord(id=row.id, model_id=row.model_id, job_id=row.job_id, hardware_id=row.hardware_id,
                             dataset_id=row.dataset_id, kind=row.kind, runtime=row.runtime, summary=row.summary or {},
                             created_at=row.created_at)


_COLUMNS = (Measurement.id, Measurement.model_id, Measurement.job_id, Measurement.hardware_id, Measurement.dataset_id,
            Measurement.kind, Measurement.runtime, Measurement.summary, Measurement.created_at)


def latest_per_model(session: Session, kind: str, root_id: int | None = None, model_ids: Iterable[int] | None = None,
                     dataset_id: int | None = None, hardware_id: int | None = None) -> dict[int, MeasurementRecord]:
    """Each model's newest ``kind`` measurement (optionally on one data set or hardware), in two statements
    (a grouped max over the index, then those rows without their raw samples)."""
    newest = select(func.max(Measurement.id)).where(Measurement.kind == kind).group_by(Measurement.model_id)
    if root_id is not None:
        newest = newest.where(Measurement.model_id.in_(select(Model.id).where(Model.root_id == root_id)))
    if model_ids is not None:
        newest = newest.where(Measurement.model_id.in_([int(i) for i in model_ids]))
    if dataset_id is not None:
        newest = newest.where(Measurement.dataset_id == dataset_id)
    if hardware_id is not None:
        newest = newest.where(Measurement.hardware_id == hardware_id)
    rows = session.execute(select(*_COLUMNS).where(Measurement.id.in_(newest)))
    return {r.model_id: _record(r) for r in rows}


SERVER_HTTP = "server-http"  # the runtime a load test's measurement is stored under


def latest_figures(session: Session, kind: str, model_ids: Iterable[int], dataset_id: int | None = None,
                   hardware_id: int | None = None) -> dict[int, dict[str, Any]]:
    """Each model's newest ``kind`` measurement reduced, inside the database, to the figures a comparison
    shows (the first benchmark cell, warnings, explanations; or the accuracy, agreement and sample count):
    a thousand rows without moving a thousand profiles."""
    ids = [int(i) for i in model_ids]

    def newest_of(*where):  # noqa: ANN002, ANN202
        query = select(func.max(Measurement.id)).where(Measurement.kind == kind, Measurement.model_id.in_(ids), *where)
        if dataset_id is not None:
            query = query.where(Measurement.dataset_id == dataset_id)
        if hardware_id is not None:
            query = query.where(Measurement.hardware_id == hardware_id)
        return query.group_by(Measurement.model_id)

    newest = newest_of()
    if kind == "benchmark":
        # A load test times the model through a whole server over HTTP (0.48 ms beside an in-process 0.02 ms on
        # the digits CNN): a model's session figure, where it has one, is what it is compared by; a model only
        # ever load-tested shows its load test (marked server-http)
        in_process = (Measurement.runtime.is_(None)) | (Measurement.runtime != SERVER_HTTP)
        has_session = select(Measurement.model_id).where(Measurement.kind == kind, in_process)
        if hardware_id is not None:
            has_session = has_session.where(Measurement.hardware_id == hardware_id)
        newest = newest_of(in_process).union(newest_of(Measurement.model_id.not_in(has_session)))
    summary = Measurement.summary
    if kind == "benchmark":  # scalars come out typed, so only the two lists are decoded from JSON here
        cell, lat = ("results", 0), ("results", 0, "latency_ms")
        extra = (*(summary[(*lat, q)].as_float().label(q) for q in ("p50", "p99")),
                 summary[(*lat, "ci95_p50", 0)].as_float().label("ci_low"),
                 summary[(*lat, "ci95_p50", 1)].as_float().label("ci_high"),
                 *(summary[(*cell, k)].as_float().label(k) for k in ("throughput_per_s", "peak_rss_mb", "cpu_percent")),
                 *(summary[(*cell, k)].as_integer().label(k) for k in ("batch", "threads")),
                 *(summary[(*cell, k)].as_string().label(k) for k in ("opt_level", "execution_mode", "thread_pool")),
                 summary["warnings"].label("warnings"), summary["explanations"].label("explanations"),
                 summary["explanation_tone"].as_string().label("explanation_tone"),
                 summary["source"].as_string().label("source"), summary["search"].label("search"))
    else:
        extra = (summary["n_samples"].as_integer().label("n_samples"),
                 summary[("metrics", "accuracy")].as_float().label("accuracy"),
                 summary[("fidelity", "agreement")].as_float().label("agreement"))
    query = select(Measurement.id, Measurement.model_id, Measurement.hardware_id, Measurement.dataset_id,
                   Measurement.runtime, Measurement.created_at, *extra).where(Measurement.id.in_(newest))
    return {r.model_id: dict(r._mapping) for r in session.execute(query)}


def history(session: Session, model_id: int, kind: str | None = None, offset: int = 0,
            limit: int = 20) -> tuple[list[MeasurementRecord], int]:
    """One model's measurements, newest first, one page of them, and how many there are in all."""
    where = [Measurement.model_id == model_id] + ([Measurement.kind == kind] if kind else [])
    total = session.scalar(select(func.count()).select_from(Measurement).where(*where)) or 0
    rows = session.execute(select(*_COLUMNS).where(*where).order_by(Measurement.id.desc()).offset(offset).limit(limit))
    return [_record(r) for r in rows], total


def latest_evaluations_by_dataset(session: Session, model_id: int) -> list[MeasurementRecord]:
    """The newest evaluation of a model on each data set: an evaluation never hides another set's accuracy."""
    newest = (select(func.max(Measurement.id))
              .where(Measurement.model_id == model_id, Measurement.kind == "evaluate")
              .group_by(Measurement.dataset_id))
    return [_record(r) for r in session.execute(select(*_COLUMNS).where(Measurement.id.in_(newest))
                                                .order_by(Measurement.id.desc()))]


def datasets_evaluated(session: Session, root_id: int) -> list[tuple[int, str, int]]:
    """(data set id, name, evaluations) for every data set a family's models were evaluated on (an index-only
    count over the measurements index)."""
    counts = (select(Measurement.dataset_id, func.count().label("n"))
              .where(Measurement.kind == "evaluate", Measurement.dataset_id.is_not(None),
                     Measurement.model_id.in_(select(Model.id).where(Model.root_id == root_id)))
              .group_by(Measurement.dataset_id).subquery())
    query = select(Dataset.id, Dataset.name, counts.c.n).join(counts, counts.c.dataset_id == Dataset.id)
    return [tuple(r) for r in session.execute(query.order_by(Dataset.id))]


def machines(session: Session, root_id: int) -> list[tuple[int, int]]:
    """(hardware id, benchmarks) for every machine a family's models were benchmarked on, most used first."""
    query = (select(Measurement.hardware_id, func.count()).where(
        Measurement.kind == "benchmark", Measurement.hardware_id.is_not(None),
        Measurement.model_id.in_(select(Model.id).where(Model.root_id == root_id)))
        .group_by(Measurement.hardware_id).order_by(func.count().desc(), Measurement.hardware_id))
    return [(int(h), int(n)) for h, n in session.execute(query)]


def hardware_of(session: Session, hardware_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = {int(i) for i in hardware_ids if i is not None}
    if not ids:
        return {}
    rows = session.scalars(select(Hardware).where(Hardware.id.in_(ids)))
    return {h.id: {"id": h.id, "fingerprint": h.fingerprint, "cpu": h.cpu, "cores": h.cores, **(h.details or {})}
            for h in rows}


def measurement_count(session: Session, root_id: int | None = None) -> int:
    query = select(func.count()).select_from(Measurement)
    if root_id is not None:
        query = query.where(Measurement.model_id.in_(select(Model.id).where(Model.root_id == root_id)))
    return session.scalar(query) or 0


def iter_measurements(session: Session, root_id: int, batch: int = 2000) -> Iterable[MeasurementRecord]:
    """Every measurement of a family in id order, streamed (without raw samples)."""
    query = (select(*_COLUMNS).where(Measurement.model_id.in_(select(Model.id).where(Model.root_id == root_id)))
             .order_by(Measurement.id).execution_options(yield_per=batch))
    for row in session.execute(query):
        yield _record(row)
