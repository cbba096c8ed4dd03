"""Choosing a champion and exporting models as files, bundles and serving layouts."""
from __future__ import annotations

import shutil
from pathlib import Path

from engine.api.common import get_model, ready
from engine.errors import InputError
from engine.jobs import service
from storage import artifacts, catalog
from storage.db import session_scope
from storage.records import ChampionRecord, JobRecord


def set_champion(model_id: int, note: str = "") -> None:
    model = get_model(model_id)
    with session_scope() as s:
        catalog.set_champion(s, model.root_id, model.id, note)


def get_champion_record(root_id: int) -> ChampionRecord | None:
    """The family's champion (``model_id``, ``note``, ``chosen_at``), or None when none was chosen."""
    ready()
    with session_scope() as s:
        return catalog.get_champion(s, int(root_id))


def get_champion(root_id: int) -> int | None:
    """The id of the family's champion, or None."""
    record = get_champion_record(root_id)
    return record.model_id if record else None


def submit_export(model_id: int, target: str) -> JobRecord:
    from engine.exporters import check_export_request

    model = get_model(model_id)
    check_export_request(model.format, target, model.id)
    return service.submit("export", {"model_id": model.id, "format": target})


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
    as_folder = str(dest).endswith(("/", "\\")) or Path(dest).is_dir()
    dest = Path(dest)
    if as_folder:
        dest = dest / job.result["filename"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest
