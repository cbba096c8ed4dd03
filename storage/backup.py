"""Backups of the catalogue and its artifacts, with a manifest of sha256s that restore verifies.

A backup is a folder: the database (SQLite's online backup API, or ``pg_dump`` for PostgreSQL), every
published artifact under ``artifacts/<relpath>``, and ``manifest.json`` listing each file's sha256.
The database is copied first: artifacts are published before the rows that point at them and never
change, so every row in the copy finds its artifact in the folder, even while workers keep running.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from storage import artifacts
from storage.db import normalize_url, reset_engines
from storage.sentences import first_line

MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """A backup that cannot be made or restored; the message says which file or server and why."""


def _pg_tool(name: str) -> str:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed; install PostgreSQL's client tools on this host")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without its password, and the environment that carries the password
    (a command line is visible to every user of the host)."""
    parsed = make_url(normalize_url(url)).set(drivername="postgresql")
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _dump_database(url: str, folder: Path) -> dict[str, Any]:
    if url.startswith("sqlite"):
        target = folder / "catalogue.sqlite"
        src, dst = sqlite3.connect(_sqlite_path(url)), sqlite3.connect(target)
        try:
            src.backup(dst)  # a consistent snapshot while others write (online backup API)
        finally:
            dst.close()
            src.close()
        return {"kind": "sqlite", "file": target.name}
    target = folder / "catalogue.pgdump"
    dsn, env = _libpq(url)
    done = subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}",
                           f"--dbname={dsn}"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
    return {"kind": "postgresql", "file": target.name}


def _sha256_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): artifacts.sha256_of(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def make_backup(url: str, dest: Path, revision: str | None) -> dict[str, Any]:
    """Write a backup of the database at ``url`` and the configured store into the new folder ``dest``."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty; give a new folder for the backup")
    dest.mkdir(parents=True, exist_ok=True)
    database = {**_dump_database(url, dest), "revision": revision}
    store = artifacts.get_store()
    relpaths = store.relpaths()
    for relpath in relpaths:
        src, out = store.resolve(relpath), dest / "artifacts" / relpath
        out.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, out)
    manifest = {"format": 1, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "database": database, "artifacts": relpaths, "files": _sha256_files(dest)}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def verify(folder: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file against it; BackupError names the first mismatch."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} holds no readable {MANIFEST}; is it a Trimline backup?") from exc
    found = _sha256_files(folder)
    for name, digest in manifest["files"].items():
        if name not in found:
            raise BackupError(f"the backup is missing {name}; it cannot be restored")
        if found[name] != digest:
            raise BackupError(f"{name} in the backup does not match its sha256 in the manifest; it was changed "
                              "or damaged after the backup was made")
    extra = sorted(set(found) - set(manifest["files"]))
    if extra:
        raise BackupError(f"the backup holds {extra[0]}, which its manifest does not list; it was changed")
    return manifest


def _copy_into(sqlite_file: Path, url: str) -> None:
    """Row by row, from a scratch copy of the backup's SQLite file (which migrating would change)."""
    from storage.catalogue_copy import copy_catalogue

    with tempfile.TemporaryDirectory(prefix="trimline-restore-") as scratch:
        copy = Path(scratch) / "catalogue.sqlite"
        shutil.copyfile(sqlite_file, copy)
        try:
            copy_catalogue(f"sqlite:///{copy}", url)
        except SQLAlchemyError as exc:
            where = make_url(url).render_as_string(hide_password=True)
            raise BackupError(f"the catalogue could not be copied into {where}: "
                              f"{first_line(getattr(exc, 'orig', None) or exc)}") from exc
        finally:
            reset_engines()


def restore_backup(folder: Path, url: str) -> dict[str, Any]:
    """Verify ``folder``, then load its database into ``url`` and its artifacts into the configured store."""
    manifest = verify(folder)
    database = manifest["database"]
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    if database["kind"] != kind and (database["kind"], kind) != ("sqlite", "postgresql"):
        raise BackupError(f"the backup holds a {database['kind']} catalogue (a pg_dump) but TRIMLINE_DATABASE_URL is "
                          f"{kind}; restore it into a PostgreSQL database")
    for relpath in manifest["artifacts"]:
        src = folder / "artifacts" / relpath
        stored = artifacts.put(src, name=src.name)
        if stored.relpath != relpath:
            raise BackupError(f"artifact {relpath} does not hash to its own name; the backup is damaged")
    reset_engines()
    source = folder / database["file"]
    if database["kind"] != kind:  # a SQLite catalogue moving to PostgreSQL (one box to several hosts)
        _copy_into(source, url)
    elif kind == "sqlite":
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(source), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        dsn, env = _libpq(url)
        done = subprocess.run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                               f"--dbname={dsn}", str(source)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
    reset_engines()
    return manifest
