"""What every part of the API shares: first-use migration, lookups by id, and the submission value."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import NotFoundError
from storage import artifacts, catalog, migrate
from storage.db import session_scope
from storage.records import DatasetRecord, JobRecord, ModelRecord
from storage.settings import get_settings

_ready: set[str] = set()


def ready() -> None:
    """Create or migrate the database on first use in this process."""
    url = get_settings().database_url
    if url not in _ready:
        migrate.upgrade(url)
        _ready.add(url)


@dataclass(frozen=True)
class Submission:
    """A queued job, or — when the same derivation already exists — the existing model and no job."""

    job: JobRecord | None
    existing_model_id: int | None = None


def get_model(model_id: int) -> ModelRecord:
    ready()
    with session_scope() as s:
        model = catalog.get_model(s, int(model_id))
    if model is None:
        raise NotFoundError(f"model {model_id} does not exist")
    return model


def get_dataset(dataset_id: int) -> DatasetRecord:
    ready()
    with session_scope() as s:
        dataset = catalog.get_dataset(s, int(dataset_id))
    if dataset is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
    return dataset


def model_path(model_id: int) -> Path:
    """The stored artifact of a model, looked up by id and checked to stay inside the store."""
    return artifacts.resolve(get_model(model_id).artifact)


def dataset_path(dataset_id: int) -> Path:
    return artifacts.resolve(get_dataset(dataset_id).artifact)


def dataset_meta(dataset_id: int | None) -> dict[str, Any] | None:
    if dataset_id is None:
        return None
    d = get_dataset(dataset_id)
    return {"id": d.id, "has_labels": d.has_labels, "n_samples": d.n_samples, "x_shape": d.x_shape,
            "x_dtype": d.x_dtype, "n_classes": d.n_classes, "sha256": d.sha256}


def first_sentence(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("ctx", {}).get("error") or first.get("msg")).removeprefix("Value error, ")
    return str(exc)
