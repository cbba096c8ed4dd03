"""Failures of the machine rather than of the input, said as one sentence a user can act on.

A full disk, a damaged database file or a path the system cannot take surface from deep inside
SQLite, the file system or a library. ``sentence_for`` recognises them wherever they are caught
last (the CLI, the dashboard, the job runner) so they never reach a user as "internal error".
"""
from __future__ import annotations

import errno
import sqlite3

from storage.settings import get_settings


def sentence_for(exc: BaseException) -> str | None:
    """The sentence for a known failure of the environment, or None when ``exc`` is something else."""
    root = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    text = str(root)
    if (isinstance(root, OSError) and root.errno == errno.ENOSPC or "database or disk is full" in text
            or ("disk I/O error" in text and _home_disk_full())):  # SQLite can't make its -shm/-wal files
        where = getattr(root, "filename", None) or _home()
        return (f"the disk holding {where} is full (No space left on device); free some space and run it again "
                "— nothing half-written was kept")
    if isinstance(root, sqlite3.DatabaseError) and ("file is not a database" in text or "malformed" in text):
        return (f"the database file is damaged ({text}); move {_db_file()} aside and run `trimline migrate` to "
                "start an empty one, or restore it from a backup")
    if isinstance(root, OSError) and root.errno == errno.ENAMETOOLONG:
        return "a path is too long for this system (File name too long); use a shorter path"
    if isinstance(root, OSError) and root.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and root.filename:
        return f"Trimline may not write {root.filename} ({root.strerror}); choose a place this user can write"
    if isinstance(root, OverflowError) and "SQLite INTEGER" in text:
        return "that id is larger than any id Trimline stores; check the number"
    return None


def _home_disk_full() -> bool:
    import shutil

    try:
        return shutil.disk_usage(get_settings().home).free < (1 << 20)
    except Exception:  # noqa: BLE001
        return False


def _home() -> str:
    try:
        return str(get_settings().home)
    except Exception:  # noqa: BLE001  (the settings themselves may be what is broken)
        return "Trimline's home folder"


def _db_file() -> str:
    try:
        return get_settings().database_url.split("///", 1)[-1]
    except Exception:  # noqa: BLE001
        return "the database file"
