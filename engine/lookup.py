"""Get a stored thing by id or raise ``NotFoundError`` with the sentence every caller shows."""
from __future__ import annotations

from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from storage import catalog
from storage import jobs as jobstore
from storage.records import DatasetRecord, JobRecord, ModelRecord


def model_or_raise(session: Session, model_id: int) -> ModelRecord:
    model = catalog.get_model(session, int(model_id))
    if model is None:
        raise NotFoundError(f"model {model_id} does not exist")
    return model


def dataset_or_raise(session: Session, dataset_id: int) -> DatasetRecord:
    dataset = catalog.get_dataset(session, int(dataset_id))
    if dataset is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
    return dataset


def job_or_raise(session: Session, job_id: int) -> JobRecord:
    job = jobstore.get_job(session, int(job_id))
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job
