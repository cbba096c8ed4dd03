"""What every part of the API shares: first-use preparation, lookups by id, and the submission value."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import environment
from engine.errors import InputError
from engine.lookup import dataset_or_raise, model_or_raise
from storage import artifacts
from storage.db import session_scope
from storage.records import DatasetRecord, JobRecord, ModelRecord


def ready() -> None:
    """Create the home folder and create or migrate the database on first use in this process.

    Raises ConfigError with one sentence when the home is a file or unwritable, or the database
    cannot be opened. Also re-queues jobs whose worker died and sweeps their leftovers (every few
    seconds at most), so the studio heals even when no worker is running."""
    environment.ready()
    from engine.jobs.housekeeping import tidy

    tidy()


@dataclass(frozen=True)
class Submission:
    """A queued job, or — when the same derivation already exists — the existing model and no job."""

    job: JobRecord | None
    existing_model_id: int | None = None


def get_model(model_id: int) -> ModelRecord:
    """The model, or NotFoundError "model N does not exist"."""
    ready()
    with session_scope() as s:
        return model_or_raise(s, model_id)


def get_dataset(dataset_id: int) -> DatasetRecord:
    """The data set, or NotFoundError "dataset N does not exist"."""
    ready()
    with session_scope() as s:
        return dataset_or_raise(s, dataset_id)


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


def dataset_misfit(dataset: dict[str, Any], model: dict[str, Any]) -> str | None:
    """Why the data set (its JSON record) cannot be fed to the model (its JSON record): the sentence a job
    would fail with; None when it fits. Reads nothing from storage, so a form can sort its choices with it."""
    from engine.formats import check_dataset_for_model

    try:
        check_dataset_for_model(dataset, model.get("inputs") or [], model.get("outputs") or [])
    except InputError as exc:
        return str(exc)
    return None

