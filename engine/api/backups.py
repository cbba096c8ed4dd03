"""Backup and restore of the catalogue and its artifacts (``trimline backup`` / ``trimline restore``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import environment
from engine.errors import InputError


def backup(dest: Path | str) -> dict[str, Any]:
    """Write the database and every artifact into the new folder ``dest``, with a sha256 manifest."""
    from storage import backup as backups
    from storage import migrate
    from storage.artifacts import StoreError

    settings = environment.ready()
    try:
        manifest = backups.make_backup(settings.database_url, Path(dest), migrate.current_revision())
    except (backups.BackupError, StoreError, OSError) as exc:
        raise InputError(str(exc)) from None
    return {"path": str(Path(dest).resolve()), "database": manifest["database"],
            "artifacts": len(manifest["artifacts"]), "files": len(manifest["files"])}


def restore(src: Path | str) -> dict[str, Any]:
    """Check the backup against its manifest, then load it into this (empty) catalogue and store."""
    from storage import backup as backups
    from storage import catalog
    from storage import jobs as jobstore
    from storage import migrate
    from storage.artifacts import StoreError
    from storage.db import session_scope

    settings = environment.ready()
    with session_scope() as s:
        if catalog.count_models(s) or jobstore.list_jobs(s, limit=1):
            raise InputError("this catalogue is not empty; restore into a new TRIMLINE_HOME or an empty database")
    try:
        manifest = backups.restore_backup(Path(src), settings.database_url)
    except (backups.BackupError, StoreError, OSError) as exc:
        raise InputError(str(exc)) from None
    migrate.upgrade()  # a backup from an older release is brought to this release's schema
    return {"path": str(Path(src).resolve()), "database": manifest["database"],
            "artifacts": len(manifest["artifacts"]), "revision": migrate.current_revision()}
