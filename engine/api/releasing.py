"""Choosing a champion and exporting models as files, bundles and serving layouts."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

from engine.api.common import get_model, ready
from engine.actor import current_actor, require
from engine.errors import InputError, NotFoundError
from engine.jobs import service
from engine.jobs.contracts import ExportParams
from storage import artifacts, catalog, family, history
from storage.db import session_scope
from storage.records import ChampionRecord, JobRecord


def set_champion(model_id: int, note: str = "", who: str | None = None, hardware_id: int | None = None) -> None:
    """Make a model its family's champion, or (with ``hardware_id``) its champion for that target machine,
    keeping a history entry with who, why and the figures the reviewer saw (the family overview's row of this
    model, measured on that machine when one is named). The replaced champion gets a demotion entry."""
    from engine.api.review import family_overview

    require("engineer", "choose a champion")
    who = who if who is not None else current_actor()
    model = get_model(model_id)
    row = next(iter(family_overview(model.root_id, model_ids=[model.id], hardware_id=hardware_id)), {})
    figures = {k: row.get(k) for k in FIGURES}
    with session_scope() as s:
        if hardware_id is not None and not family.hardware_of(s, [hardware_id]):
            raise NotFoundError(f"hardware {hardware_id} does not exist; pick a machine the family was measured on")
        previous = catalog.get_champion(s, model.root_id, hardware_id)
        if previous is not None and previous.hardware_id == hardware_id and previous.model_id != model.id:
            history.add_champion_event(s, model.root_id, previous.model_id, "demote", f"replaced by #{model.id}", who,
                                       hardware_id)
        catalog.set_champion(s, model.root_id, model.id, note, hardware_id, who)
        history.add_champion_event(s, model.root_id, model.id, "promote", note, who, hardware_id, figures)
    if hardware_id is None:  # a served family gets its new (family-wide) champion as the next version
        from engine.api.serving import champion_chosen

        champion_chosen(model.id)


FIGURES = ("latency_p50_ms", "latency_ci95", "latency_ratio", "ratio_basis", "latency_provenance", "size_bytes",
           "size_ratio", "accuracy", "accuracy_provenance", "noise", "pareto")


def champion_history(root_id: int) -> list[dict[str, Any]]:
    """Every promotion and demotion of a family's champion, newest first: ``model_id, model_name, action, note,
    who, hardware_id, figures, at, deleted`` (``deleted``: the model it names is gone; the entry stays)."""
    ready()
    with session_scope() as s:
        return history.champion_events(s, int(root_id))


def deleted_families_history() -> list[dict[str, Any]]:
    """Champion decisions of families whose root model was deleted (``root_id`` and ``family_name`` as they
    were), newest first: deleting a model never deletes what was decided about it."""
    ready()
    with session_scope() as s:
        return history.deleted_family_events(s)


def champions_by_hardware(root_id: int) -> dict[int, ChampionRecord]:
    """The champion chosen for each target machine, by hardware id (machines with none chosen are absent)."""
    ready()
    with session_scope() as s:
        return catalog.machine_champions(s, int(root_id))


def get_champion(root_id: int, hardware_id: int | None = None) -> ChampionRecord | None:
    """The champion for ``hardware_id``'s machine when one was chosen for it, else the family's champion
    (``model_id``, ``note``, ``chosen_at``, ``hardware_id``: None for the family-wide choice); None when none
    was chosen."""
    ready()
    with session_scope() as s:
        return catalog.get_champion(s, int(root_id), int(hardware_id) if hardware_id is not None else None)


def submit_export(model_id: int, target: str, ensemble: bool = False) -> JobRecord:
    """Queue an export. ``ensemble``: a model made by the compose pass as a Triton ensemble of its two
    members (each its own model) instead of one merged graph."""
    from engine.exporters import check_export_request

    model = get_model(model_id)
    check_export_request(model.format, target, model.id)
    if ensemble:
        if target != "triton":
            raise InputError(f"an ensemble is a Triton model repository; export it with format triton, not {target}")
        if not can_be_ensemble(model.id):
            raise InputError(f"model {model.id} was not made by the compose pass from two ONNX models, so it has no "
                             "members to export as an ensemble")
    return service.submit("export", ExportParams(model_id=model.id, format=target, ensemble=ensemble))


def can_be_ensemble(model_id: int) -> bool:
    """Whether the model is an ONNX chain made by the compose pass whose two members are still stored."""
    model = get_model(model_id)
    if model.pass_name != "compose" or model.format != "onnx" or model.parent_id is None:
        return False
    with session_scope() as s:
        second = catalog.get_model(s, int((model.config or {}).get("second", 0)))
    return second is not None and second.format == "onnx"


def export_targets(model_format: str) -> list[str]:
    """The export formats a model of ``model_format`` can give (the Download page offers only these)."""
    from engine.exporters import EXPORT_FORMATS, check_export_request

    targets = []
    for target in EXPORT_FORMATS:
        try:
            check_export_request(model_format, target)
        except InputError:
            continue
        targets.append(target)
    return targets


def export_path(job: JobRecord) -> Path:
    if job.kind != "export" or job.status != "succeeded" or not job.result:
        raise InputError(f"job {job.id} is not a finished export")
    return artifacts.resolve(job.result["artifact"])


def copy_export(job: JobRecord, dest: Path | str) -> Path:
    """Copy a finished export to ``dest``: a file path, or a folder (existing, or written with a trailing /)."""
    src = export_path(job)
    shown = str(dest)[:200]
    try:
        as_folder = str(dest).endswith(("/", "\\")) or Path(dest).is_dir()
        dest = Path(dest)
        if as_folder:
            dest = dest / job.result["filename"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.partial")
        try:
            shutil.copyfile(src, partial)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:  # /proc, a read-only disk, a full disk, a path too long: say where and why
        reason = "No space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise InputError(f"cannot write the export to {shown} ({reason}); choose another place with -o") from None
    return dest
