"""Catalogue hygiene: rename, tag, archive, delete (with garbage collection of artifacts nothing refers to),
and where the storage goes. Deletions are recorded with who did them."""
from __future__ import annotations

from typing import Any

from engine.actor import current_actor, require
from engine.api.common import get_model, ready
from engine.errors import InputError
from storage import artifacts, catalog, history, hygiene
from storage.db import session_scope


def rename_model(model_id: int, name: str, who: str | None = None) -> None:
    require("engineer", "rename models")
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("a model name needs 1 to 200 characters")
    model = get_model(model_id)
    with session_scope() as s:
        catalog.rename_model(s, model.id, name)
        history.audit(s, "rename", f"model {model.id}", who, {"from": model.name, "to": name})


def tag_model(model_id: int, add: list[str] | None = None, remove: list[str] | None = None) -> list[str]:
    """Add and remove tags; returns the model's tags after the change."""
    require("engineer", "tag models")
    model = get_model(model_id)
    clean = [t.strip() for t in add or [] if t.strip()]
    if any(len(t) > 40 or "," in t for t in clean):
        raise InputError("a tag has at most 40 characters and no commas")
    tags = (set(model.tags) | set(clean)) - set(remove or [])
    with session_scope() as s:
        hygiene.set_tags(s, model.id, sorted(tags))
        if tags != set(model.tags):  # pages cache on the audit trail's growth too
            history.audit(s, "tag", f"model {model.id}", current_actor(), {"tags": ", ".join(sorted(tags))})
    return sorted(tags)


def archive_model(model_id: int, archived: bool = True, who: str | None = None) -> None:
    require("engineer", "archive models")
    model = get_model(model_id)
    with session_scope() as s:
        hygiene.set_archived(s, model.id, archived)
        history.audit(s, "archive" if archived else "unarchive", f"model {model.id}", who)


def delete_model(model_id: int, who: str | None = None) -> dict[str, Any]:
    """Delete a model that has no children, its measurements, and its artifact when no other row still refers
    to it. Returns ``{"model_id", "artifacts_removed"}``. Admins only. A champion mark on it ends with a
    demotion entry in its family's history; the history itself stays (also when the model is the root)."""
    require("admin", "delete models")
    who = who if who is not None else current_actor()
    model = get_model(model_id)
    with session_scope() as s:
        kids = hygiene.child_count(s, model.id)
        if kids:
            raise InputError(f"model {model.id} has {kids} derived model(s); delete or archive those first "
                             "(archiving keeps everything and hides it from the lists)")
        for mark in hygiene.champion_marks(s, model.id):
            history.add_champion_event(s, model.root_id, model.id, "demote", f"model #{model.id} was deleted", who,
                                       mark)
        artifact = hygiene.delete_model(s, model.id)
        history.audit(s, "delete", f"model {model.id}", who, {"name": model.name, "sha256": model.sha256})
    return {"model_id": model.id, "artifacts_removed": collect_garbage([artifact])}


def collect_garbage(candidates: list[str] | None = None) -> list[str]:
    """Remove artifacts no model, data set or export refers to (only ``candidates``, or every such one)."""
    require("admin", "delete artifacts")
    ready()
    with session_scope() as s:
        referenced = hygiene.referenced_artifacts(s)
    pool = candidates if candidates is not None else artifacts.relpaths()
    removed = []
    for relpath in pool:
        if relpath not in referenced:
            artifacts.remove(relpath)
            removed.append(relpath)
    return removed


def storage_per_family() -> dict[int, int]:
    """Bytes of distinct artifacts per family root id."""
    ready()
    with session_scope() as s:
        return hygiene.storage_per_family(s)


DATASET_ROLES = ("calibration", "fine-tuning", "evaluation")


def set_dataset_role(dataset_id: int, role: str | None) -> None:
    """Say what a data set is for: calibration, fine-tuning or evaluation (None: not said)."""
    require("engineer", "set data set roles")
    if role is not None and role not in DATASET_ROLES:
        raise InputError(f"a data set's role is one of {', '.join(DATASET_ROLES)}, not {role!r}")
    ready()
    with session_scope() as s:
        try:
            hygiene.set_dataset_role(s, int(dataset_id), role)
        except LookupError as exc:
            raise InputError(str(exc)) from None
        history.audit(s, "set role", f"dataset {int(dataset_id)}", current_actor(), {"role": role or "not said"})


def datasets_overview() -> list[dict[str, Any]]:
    """Every data set with its shape, labels, role, and the models evaluated on it or calibrated/fine-tuned
    on it (``evaluated``, ``trained``)."""
    ready()
    with session_scope() as s:
        sets = catalog.list_datasets(s)
        usage = hygiene.dataset_usage(s)
    return [{**d.to_json(), "evaluated": sorted(usage.get(d.id, {}).get("evaluated", [])),
             "trained": sorted(usage.get(d.id, {}).get("trained", []))} for d in sets]
