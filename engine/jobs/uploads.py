"""Staged uploads: an import's copy of the user's file, kept only while its job may still need it.

With the default store (a folder in this home) an upload stays in this home's upload folder, and only a
worker of this home imports it. When the artifact store is shared (``TRIMLINE_STORE_URL``: a mount or
an object store), the upload is published there under its generated name, so a worker on any host can
import it: that worker fetches it into its own read cache and gives its job's sandbox that one file.
"""
from __future__ import annotations

import logging
from pathlib import Path

from engine.errors import ConfigError
from storage import artifacts
from storage.artifacts import StoreError
from storage.records import JobRecord
from storage.settings import get_settings

log = logging.getLogger("trimline.jobs")


def store_is_shared() -> bool:
    """Whether artifacts go to a store other than this home's own folder (every host can read it)."""
    settings = get_settings()
    return settings.store_url != str(settings.home / "artifacts")


def stage_upload(local: Path) -> dict[str, str]:
    """Where an import job finds ``local`` (a file ``save_upload`` wrote): ``{"upload": path}`` on this
    host, or ``{"staged": store path}`` once published to a shared store (the local copy is then removed).
    Raises ConfigError when the shared store cannot take it."""
    if not store_is_shared():
        return {"upload": str(local)}
    try:
        stored = artifacts.put(local, name=local.name)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        local.unlink(missing_ok=True)
    return {"staged": stored.relpath}


def staged_path(relpath: str) -> Path:
    """This host's copy of an upload staged in the shared store (fetched into the read cache and checked
    against its manifest). StoreError when the store cannot give it."""
    return artifacts.resolve(relpath)


def discard_upload(job: JobRecord) -> None:
    """An import's staged upload is not needed once the job has ended, whichever way."""
    if job.done:
        discard_staged(job.params)


def discard_staged(source: dict) -> None:
    """Remove the upload an import's ``upload`` or ``staged`` names (only from where uploads are staged)."""
    if upload := source.get("upload"):
        path = Path(upload)
        if path.resolve().parent == get_settings().upload_dir.resolve():
            path.unlink(missing_ok=True)
    if staged := source.get("staged"):
        (get_settings().cache_dir / staged).unlink(missing_ok=True)  # this host's copy first: once the store
        try:                                                        # has none, no host holds one
            artifacts.remove(staged)
        except StoreError as exc:  # `trimline gc` takes it later: no row refers to it
            log.warning("a staged upload stays in the store: %s", exc)
