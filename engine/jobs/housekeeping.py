"""Keeping the home tidy without a worker: expired leases re-queued, dead jobs' files swept.

A worker runs ``tidy`` when it starts and every minute; the CLI and the dashboard run it (at most every
few seconds) whenever they touch the studio, so a job whose worker died is re-queued even when no
worker is left, and scratch folders or half-received uploads of dead jobs do not pile up.
"""
from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from pathlib import Path

from engine.jobs import queue
from storage import jobs as jobstore
from storage.db import is_locked, read_scope
from storage.settings import get_settings

log = logging.getLogger("trimline.housekeeping")

SCRATCH_GRACE_S = 10.0  # a folder this young may belong to a job that is being claimed right now
UPLOAD_GRACE_S = 900.0  # an upload still being received keeps touching its file
EVERY_S = 5.0
_SCRATCH = re.compile(r"^job-(\d+)-(\d+)$")
_last = {"at": 0.0}
_lock = threading.Lock()


def tidy(force: bool = False) -> None:
    """Re-queue jobs whose lease expired and sweep orphans; a locked database only postpones it."""
    with _lock:
        if not force and time.monotonic() - _last["at"] < EVERY_S:
            return
        _last["at"] = time.monotonic()
    try:
        if force or _expired_leases():
            queue.reap_and_requeue()
        sweep()
    except Exception as exc:
        if not is_locked(exc):
            raise
        log.info("housekeeping postponed: the database is locked")


def _expired_leases() -> bool:
    with read_scope() as s:
        return jobstore.has_expired_leases(s)


def sweep(now: float | None = None) -> list[Path]:
    """Remove scratch folders of jobs that are not running and uploads no waiting job needs."""
    settings = get_settings()
    now = time.time() if now is None else now
    with read_scope() as s:
        active = jobstore.active_jobs(s)
    running = {(j.id, j.attempts) for j in active if j.status == "running"}
    needed = {str(j.params.get("upload")) for j in active if j.params.get("upload")}
    removed: list[Path] = []
    for path in _children(settings.scratch_dir):
        match = _SCRATCH.match(path.name)
        if match and (int(match[1]), int(match[2])) in running:
            continue
        if now - _mtime(path) > SCRATCH_GRACE_S:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    for path in _children(settings.upload_dir):
        if str(path) not in needed and now - _mtime(path) > UPLOAD_GRACE_S:
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.info("swept %d orphaned scratch folder(s) and upload(s): %s", len(removed), [p.name for p in removed])
    return removed


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:
        return float("inf")
