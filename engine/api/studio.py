"""Running the studio: its settings, the database schema, a worker, and the doctor's checks."""
from __future__ import annotations

import threading
from typing import Any

from engine import environment
from engine.errors import InputError
from storage.settings import Settings


def settings() -> Settings:
    """The typed settings from the environment; ConfigError naming a variable whose value is unusable."""
    return environment.settings()


def migrate() -> str | None:
    """Create or upgrade the database to the newest schema; returns the revision it is at.

    Raises ConfigError when the home or the database cannot be used."""
    current = environment.settings()
    environment.check_home(current)
    return environment.open_database(current, upgrade=True)


def run_worker(threads: int = 1, stop: threading.Event | None = None, labels: list[str] | tuple[str, ...] = ()) -> None:
    """Prepare the home and database, then consume the queue until stopped (``trimline worker``),
    answering to ``labels`` (e.g. ``edge``) besides its host name and hardware fingerprint."""
    from engine.jobs import placement
    from engine.jobs.worker import run_worker as consume

    try:
        checked = tuple(placement.check_label(label) for label in labels)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    from engine import services

    services.require(environment.ready())
    consume(threads=threads, stop=stop, labels=checked)


def harden_process() -> dict[str, str]:
    """For a long-running worker or dashboard: no core dumps and no reading of this process's memory or
    /proc files by others of its user, and secret settings (``TRIMLINE_PASSWORD``, database and queue
    URLs) taken out of its environment. Returns them, for a launcher to hand to the processes it starts."""
    from engine.jobs.sandbox import make_non_dumpable
    from storage.secret_env import seal_secrets

    make_non_dumpable()
    return seal_secrets()


def doctor() -> dict[str, Any]:
    """Versions, CPU flags and checks that the studio can run here (``trimline doctor``)."""
    from engine.doctor import run_checks

    return run_checks()
