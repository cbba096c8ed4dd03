"""The huey queue only wakes workers: a task carries nothing but a job id.

Embedded default: ``SqliteHuey`` on its own file under TRIMLINE_HOME. ``TRIMLINE_QUEUE_URL=redis://…``
moves the queue to Redis so workers on many hosts share it. Re-queuing the jobs of dead workers lives
here too: it is the other way a job reaches the queue.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey, crontab

from storage import jobs as jobstore
from storage.db import session_scope
from storage.settings import get_settings

log = logging.getLogger("trimline.queue")
TASK_NAME = "trimline.run_job"
_lock = threading.Lock()
_hueys: dict[str, tuple[Huey, object]] = {}


def _run_job_task(job_id: int) -> None:
    from engine.jobs.placement import run_from_queue

    run_from_queue(job_id, pass_on=enqueue)


def get_huey() -> Huey:
    """The huey instance for the configured queue, with Trimline's tasks registered on it."""
    url = get_settings().queue_url
    with _lock:
        if url not in _hueys:
            if url.startswith("redis://"):
                huey = RedisHuey("trimline", url=url)
            else:
                path = url.split("///", 1)[-1]
                _set_aside_if_damaged(Path(path))
                huey = SqliteHuey("trimline", filename=path)
            task = huey.task(name=TASK_NAME, retries=0)(_run_job_task)
            huey.periodic_task(crontab(minute="*"), name="trimline.reap")(reap_and_requeue)
            _hueys[url] = (huey, task)
        return _hueys[url][0]


def _set_aside_if_damaged(path: Path) -> None:
    """The queue file only wakes workers (the jobs table is the truth, and a worker re-enqueues every
    queued job when it starts), so a damaged one is moved aside and a fresh one made."""
    if not path.is_file():
        return
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            return
        aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        log.warning("the queue file %s was damaged (%s); moved it to %s and started a new one", path, exc, aside.name)


def enqueue(job_id: int) -> None:
    """Wake a worker for ``job_id`` (harmless if the job is already claimed: claims are atomic)."""
    get_huey()
    _hueys[get_settings().queue_url][1](job_id)


def reap_and_requeue() -> list[int]:
    """Expire dead workers' leases; wake a worker for each re-queued job. Returns the jobs touched."""
    with session_scope() as s:
        touched = jobstore.reap_expired(s)
        requeued = [j for j in touched if jobstore.get_job(s, j).status == "queued"]
    for job_id in requeued:
        enqueue(job_id)
    return touched
