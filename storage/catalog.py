"""Queries over models (lineage nodes), datasets and champions. Each returns plain records."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.records import ChampionRecord, DatasetRecord, ModelRecord
from storage.tables import AuditEvent, Champion, ChampionEvent, Dataset, MachineChampion, Measurement, Model, utcnow


def _model(row: Model) -> ModelRecord:
    return ModelRecord(
        id=row.id, name=row.name, format=row.format, parent_id=row.parent_id, root_id=row.root_id or row.id,
        pass_name=row.pass_name, config=row.config or {}, derivation_key=row.derivation_key, sha256=row.sha256, artifact=row.artifact,
        size_bytes=row.size_bytes, params=row.params, flops=row.flops, inputs=row.inputs or [],
        outputs=row.outputs or [], info=row.info or {}, metrics=row.metrics or {}, created_at=row.created_at,
        tags=list(row.tags or []), archived=bool(row.archived),
    )


def _dataset(row: Dataset) -> DatasetRecord:
    return DatasetRecord(
        id=row.id, name=row.name, sha256=row.sha256, artifact=row.artifact, n_samples=row.n_samples,
        x_shape=row.x_shape, x_dtype=row.x_dtype, has_labels=row.has_labels, n_classes=row.n_classes,
        source_format=row.source_format, created_at=row.created_at, role=row.role, tags=list(row.tags or []),
        archived=bool(row.archived),
    )


def add_model(session: Session, **fields: Any) -> ModelRecord:
    """Insert a lineage node. A child inherits its parent's root; a root is its own root."""
    row = Model(**fields)
    if row.parent_id is not None:
        parent = session.get(Model, row.parent_id)
        if parent is None:
            raise LookupError(f"model {row.parent_id} does not exist")
        row.root_id = parent.root_id or parent.id
    session.add(row)
    session.flush()
    if row.root_id is None:
        row.root_id = row.id
        session.flush()
    return _model(row)


def get_model(session: Session, model_id: int) -> ModelRecord | None:
    row = session.get(Model, model_id)
    return _model(row) if row else None


def find_derived(session: Session, derivation_key: str) -> ModelRecord | None:
    row = session.scalar(select(Model).where(Model.derivation_key == derivation_key))
    return _model(row) if row else None


def lineage(session: Session, model_id: int) -> list[ModelRecord]:
    """The chain from the model's root down to the model itself (root first)."""
    chain = []
    row = session.get(Model, model_id)
    while row is not None:
        chain.append(_model(row))
        row = session.get(Model, row.parent_id) if row.parent_id is not None else None
    return list(reversed(chain))


def find_root_by_name(session: Session, name: str) -> ModelRecord | None:
    """The oldest upload (family head) with this exact name, if any."""
    row = session.scalar(select(Model).where(Model.parent_id.is_(None), Model.name == name,
                                             Model.archived.is_(False)).order_by(Model.id).limit(1))
    return _model(row) if row else None


def list_models(session: Session, root_id: int | None = None) -> list[ModelRecord]:
    query = select(Model).order_by(Model.id)
    if root_id is not None:
        query = query.where(Model.root_id == root_id)
    return [_model(r) for r in session.scalars(query)]


def children(session: Session, model_id: int) -> list[ModelRecord]:
    return [_model(r) for r in session.scalars(select(Model).where(Model.parent_id == model_id).order_by(Model.id))]





def count_models(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Model)) or 0


def rename_model(session: Session, model_id: int, name: str) -> None:
    row = session.get(Model, model_id)
    if row is None:
        raise LookupError(f"model {model_id} does not exist")
    row.name = name


def add_dataset(session: Session, **fields: Any) -> DatasetRecord:
    row = Dataset(**fields)
    session.add(row)
    session.flush()
    return _dataset(row)


def get_dataset(session: Session, dataset_id: int) -> DatasetRecord | None:
    row = session.get(Dataset, dataset_id)
    return _dataset(row) if row else None


def list_datasets(session: Session) -> list[DatasetRecord]:
    return [_dataset(r) for r in session.scalars(select(Dataset).order_by(Dataset.id))]


def set_champion(session: Session, root_id: int, model_id: int, note: str = "", hardware_id: int | None = None,
                 who: str | None = None) -> ChampionRecord:
    """Choose the family's champion, or (with ``hardware_id``) its champion for that target machine."""
    if hardware_id is None:
        row = session.get(Champion, root_id) or Champion(root_id=root_id, model_id=model_id)
        row.model_id, row.note, row.chosen_at = model_id, note, utcnow()
        session.add(row)
        session.flush()
        return _champion(row)
    mrow = session.get(MachineChampion, (root_id, hardware_id)) or MachineChampion(root_id=root_id,
                                                                                  hardware_id=hardware_id)
    mrow.model_id, mrow.note, mrow.who, mrow.chosen_at = model_id, note, who, utcnow()
    session.add(mrow)
    session.flush()
    return _champion(mrow)


def _champion(row: Champion | MachineChampion) -> ChampionRecord:
    return ChampionRecord(root_id=row.root_id, model_id=row.model_id, note=row.note, chosen_at=row.chosen_at,
                          hardware_id=getattr(row, "hardware_id", None), who=getattr(row, "who", None))


def get_champion(session: Session, root_id: int, hardware_id: int | None = None) -> ChampionRecord | None:
    """The champion for ``hardware_id``'s machine when one was chosen for it, else the family's champion."""
    if hardware_id is not None:
        mrow = session.get(MachineChampion, (root_id, hardware_id))
        if mrow is not None:
            return _champion(mrow)
    row = session.get(Champion, root_id)
    return _champion(row) if row else None


def machine_champions(session: Session, root_id: int) -> dict[int, ChampionRecord]:
    """The champions chosen per target machine, by hardware id."""
    rows = session.scalars(select(MachineChampion).where(MachineChampion.root_id == root_id))
    return {r.hardware_id: _champion(r) for r in rows}


def catalogue_version(session: Session) -> tuple[int, ...]:
    """Numbers that change whenever something a page shows changes: a model or data set added or deleted, a
    measurement, a champion decision, or an audited edit (rename, tags, archive, roles). One statement over
    primary keys, so pages can cache what they read until it moves."""
    def top(column: Any) -> Any:
        return select(func.coalesce(func.max(column), 0)).scalar_subquery()

    def count(column: Any) -> Any:
        return select(func.count(column)).scalar_subquery()

    row = session.execute(select(top(Model.id), count(Model.id), top(Measurement.id), top(ChampionEvent.id),
                                 top(AuditEvent.id), top(Dataset.id), count(Dataset.id))).one()
    return tuple(int(v) for v in row)
