"""Staged uploads: an import's copy of the user's file, kept only while its job may still need it."""
from __future__ import annotations

from pathlib import Path

from storage.records import JobRecord
from storage.settings import get_settings


def discard_upload(job: JobRecord) -> None:
    """An import's staged upload is not needed once the job has ended, whichever way."""
    upload = job.params.get("upload")
    if job.done and upload:
        path = Path(upload)
        if path.resolve().parent == get_settings().upload_dir.resolve():
            path.unlink(missing_ok=True)
