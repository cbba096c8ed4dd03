"""The huey queue only wakes workers: a task carries nothing but a job id.

Embedded default: ``SqliteHuey`` on its own file under TRIMLINE_HOME. ``TRIMLINE_QUEUE_URL=redis://…``
moves the queue to Redis so workers on many hosts share it.
"""
from __future__ import annotations

import threading

from huey import Huey, RedisHuey, SqliteHuey, crontab

from storage.settings import get_settings

TASK_NAME = "trimline.run_job"
_lock = threading.Lock()
_hueys: dict[str, tuple[Huey, object]] = {}


def _run_job_task(job_id: int) -> None:
    from engine.jobs.runner import run_job

    run_job(job_id)


def _reap_task() -> None:
    from engine.jobs.service import reap_and_requeue

    reap_and_requeue()


def get_huey() -> Huey:
    """The huey instance for the configured queue, with Trimline's tasks registered on it."""
    url = get_settings().queue_url
    with _lock:
        if url not in _hueys:
            if url.startswith("redis://"):
                huey = RedisHuey("trimline", url=url)
            else:
                path = url.split("///", 1)[-1]
                huey = SqliteHuey("trimline", filename=path)
            task = huey.task(name=TASK_NAME, retries=0)(_run_job_task)
            huey.periodic_task(crontab(minute="*"), name="trimline.reap")(_reap_task)
            _hueys[url] = (huey, task)
        return _hueys[url][0]


def enqueue(job_id: int) -> None:
    """Wake a worker for ``job_id`` (harmless if the job is already claimed: claims are atomic)."""
    get_huey()
    _hueys[get_settings().queue_url][1](job_id)
