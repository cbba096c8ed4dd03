"""Get a stored thing by id or raise ``NotFoundError`` with the sentence every caller shows."""
from __future__ import annotations

from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from storage import catalog
from storage import jobs as jobstore
from storage.records import DatasetRecord, JobRecord, ModelRecord


MAX_ID = 2**63 - 1  # SQLite's (and PostgreSQL's bigint) largest integer


def _checked(what: str, value: int) -> int:
    """An id a database can hold; anything else cannot exist (and must not reach the driver)."""
    if not 0 < int(value) <= MAX_ID:
        raise NotFoundError(f"{what} {value} does not exist")
    return int(value)


def model_or_raise(session: Session, model_id: int) -> ModelRecord:
    model = catalog.get_model(session, _checked("model", model_id))
    if model is None:
        raise NotFoundError(f"model {model_id} does not exist")
    return model


def dataset_or_raise(session: Session, dataset_id: int) -> DatasetRecord:
    dataset = catalog.get_dataset(session, _checked("dataset", dataset_id))
    if dataset is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
    return dataset


def job_or_raise(session: Session, job_id: int) -> JobRecord:
    job = jobstore.get_job(session, _checked("job", job_id))
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job
