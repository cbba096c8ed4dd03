"""Keeping the catalogue tidy: tags, archiving, deleting a model with its measurements, and finding the
artifacts no row refers to any more (so they can be removed without breaking anything still listed)."""
from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.tables import Champion, Dataset, Job, MachineChampion, Measurement, Model


def set_tags(session: Session, model_id: int, tags: list[str]) -> None:
    row = session.get(Model, model_id)
    if row is None:
        raise LookupError(f"model {model_id} does not exist")
    row.tags = sorted(set(tags))


def set_archived(session: Session, model_id: int, archived: bool) -> None:
    row = session.get(Model, model_id)
    if row is None:
        raise LookupError(f"model {model_id} does not exist")
    row.archived = archived


def child_count(session: Session, model_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Model).where(Model.parent_id == model_id)) or 0


def champion_marks(session: Session, model_id: int) -> list[int | None]:
    """Where a model is champion: None for its family's choice, a hardware id for a machine's."""
    marks: list[int | None] = [None] if session.scalar(select(Champion.root_id).where(Champion.model_id == model_id)) \
        else []
    return marks + list(session.scalars(select(MachineChampion.hardware_id).where(MachineChampion.model_id == model_id)))


def delete_model(session: Session, model_id: int) -> str:
    """Delete a leaf model, its measurements and the champion mark on it; returns its artifact path.
    The caller checks it has no children (the parent link is RESTRICT, so the database refuses too)."""
    row = session.get(Model, model_id)
    if row is None:
        raise LookupError(f"model {model_id} does not exist")
    artifact = row.artifact
    session.execute(delete(Measurement).where(Measurement.model_id == model_id))
    session.execute(delete(Champion).where((Champion.model_id == model_id) | (Champion.root_id == model_id)))
    session.execute(delete(MachineChampion).where((MachineChampion.model_id == model_id)
                                                  | (MachineChampion.root_id == model_id)))
    session.delete(row)
    session.flush()
    return artifact


def referenced_artifacts(session: Session) -> set[str]:
    """Every artifact path a model, a data set or a finished export still points at, and the uploads
    staged in the store for imports that have not ended yet."""
    refs = set(session.scalars(select(Model.artifact))) | set(session.scalars(select(Dataset.artifact)))
    for params in session.scalars(select(Job.params).where(Job.status.in_(("queued", "running")))):
        if isinstance(params, dict) and isinstance(params.get("staged"), str):
            refs.add(params["staged"])
    for result in session.scalars(select(Job.result).where(Job.kind == "export", Job.status == "succeeded")):
        if isinstance(result, dict) and result.get("artifact"):
            refs.add(result["artifact"])
    return refs


def storage_per_family(session: Session) -> dict[int, int]:
    """Bytes of distinct artifacts per family (an artifact shared by two variants counts once)."""
    rows = session.execute(select(Model.root_id, Model.artifact, Model.size_bytes).distinct())
    out: dict[int, int] = {}
    seen: set[tuple[int, str]] = set()
    for root, artifact, size in rows:
        if (root, artifact) not in seen:
            seen.add((root, artifact))
            out[root] = out.get(root, 0) + (size or 0)
    return out


def set_dataset_role(session: Session, dataset_id: int, role: str | None) -> None:
    row = session.get(Dataset, dataset_id)
    if row is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    row.role = role


def dataset_usage(session: Session) -> dict[int, dict[str, list[int]]]:
    """Per data set: the models evaluated on it and the models a pass calibrated or fine-tuned on it."""
    out: dict[int, dict[str, list[int]]] = {}
    evaluated = session.execute(select(Measurement.dataset_id, Measurement.model_id).distinct()
                                .where(Measurement.kind == "evaluate", Measurement.dataset_id.is_not(None)))
    for dataset_id, model_id in evaluated:
        out.setdefault(dataset_id, {"evaluated": [], "trained": []})["evaluated"].append(model_id)
    trained = session.execute(select(Model.metrics[("trained_on_dataset", "id")].as_integer(), Model.id)
                              .where(Model.metrics[("trained_on_dataset", "id")].as_integer().is_not(None)))
    for dataset_id, model_id in trained:
        out.setdefault(dataset_id, {"evaluated": [], "trained": []})["trained"].append(model_id)
    return out
