"""Reading the catalogue: models, data sets, jobs, and one model with its lineage and measurements."""
from __future__ import annotations

from typing import Any

from engine.api.common import get_model, ready
from storage import catalog, measurements
from storage import jobs as jobstore
from storage.db import read_scope as session_scope  # catalogue reads never wait for a writer
from storage.records import DatasetRecord, JobRecord, ModelRecord


def list_models(root_id: int | None = None) -> list[ModelRecord]:
    """Every model, oldest first; with ``root_id``, one family (an upload and its derived variants)."""
    ready()
    with session_scope() as s:
        return catalog.list_models(s, root_id)


def list_datasets() -> list[DatasetRecord]:
    ready()
    with session_scope() as s:
        return catalog.list_datasets(s)


def list_jobs(limit: int = 200) -> list[JobRecord]:
    """The newest ``limit`` jobs, newest first."""
    ready()
    with session_scope() as s:
        return jobstore.list_jobs(s, limit)


def show_model(model_id: int) -> dict[str, Any]:
    """A model with its lineage neighbours and measurements (the CLI's ``show``)."""
    model = get_model(model_id)
    with session_scope() as s:
        kids = catalog.children(s, model.id)
        ms = measurements.list_measurements(s, model.id)
        champion = catalog.get_champion(s, model.root_id)
    return {**model.to_json(), "children": [k.id for k in kids], "measurements": [m.to_json() for m in ms],
            "champion": bool(champion and champion.model_id == model.id)}
