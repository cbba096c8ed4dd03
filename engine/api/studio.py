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


def stop_processes(running: dict, hurry: threading.Event | None = None) -> list[str]:
    """``trimline up``'s stop: SIGTERM its processes (``{name: Popen}``) together, kill any still running after
    a few seconds (at once when ``hurry`` is set); one phrase per process saying how it ended."""
    from engine.supervise import stop_all

    return stop_all(running, hurry=hurry)


def port_holder(host: str, port: int) -> str | None:
    """None when the dashboard could listen on ``host:port``; else which process holds it, for a sentence."""
    from engine.supervise import port_holder as holder

    return holder(host, port)


def wait_for_port(host: str, port: int, timeout_s: float | None = None) -> str | None:
    """Wait a few seconds (``timeout_s``) for ``host:port`` to be free, as when the last ``trimline up`` on it is
    still stopping; None once it is free, else which process still holds it."""
    from engine.supervise import PORT_WAIT_S, wait_for_port as wait

    return wait(host, port, PORT_WAIT_S if timeout_s is None else timeout_s)
