"""Engine and session factory. One place owns SQLite's pragmas, transactions and the schema check.

SQLite is opened in WAL mode with a busy timeout and foreign keys on, and every transaction
starts with ``BEGIN IMMEDIATE`` so concurrent writers queue on the lock instead of failing
with "database is locked" when a reader upgrades to a writer. PostgreSQL (``postgresql://``, driven
by psycopg 3) needs none of that: its row locks and READ COMMITTED re-checks keep the same
guarantees, so the pragmas and ``BEGIN IMMEDIATE`` are for SQLite only.

Reads (``read_scope``) start a plain deferred transaction: WAL readers never wait for a writer, so
listing jobs works while another process holds the write lock. A writer that waits longer than the
busy timeout gets "database is locked"; ``retry_locked`` runs such a transaction again with back-off,
for the writes a job must not lose (heartbeats, progress, its end).
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.settings import get_settings

log = logging.getLogger("trimline.db")
T = TypeVar("T")
_lock = threading.Lock()
_engines: dict[str, Engine] = {}

BUSY_TIMEOUT_MS = 30_000  # the default; TRIMLINE_BUSY_TIMEOUT_S changes it
CONNECT_TIMEOUT_S = 5
READ_ONLY = "trimline_read_only"


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _make_engine(url: str) -> Engine:
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        busy_ms = int(get_settings().busy_timeout_s * 1000)
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000, "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    url = normalize_url(url or get_settings().database_url)
    with _lock:
        if url not in _engines:
            _engines[url] = _make_engine(url)
        return _engines[url]


def reset_engines() -> None:
    """Dispose every engine (tests switch TRIMLINE_HOME; forked children must not share sockets)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_scope(url: str | None = None) -> Iterator[Session]:
    """A session for reading only: on SQLite a deferred BEGIN, which never waits for a writer's lock."""
    factory = sessionmaker(bind=get_engine(url).execution_options(**{READ_ONLY: True}), expire_on_commit=False)
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" (another process held the write lock past the busy timeout)."""
    return "database is locked" in str(getattr(exc, "orig", None) or exc)


def retry_locked(work: Callable[[], T], what: str, give_up_s: float | None = None) -> T:
    """Run ``work`` (one whole transaction) again while the database is locked, waiting 0.1 s, then
    twice as long each time up to 5 s; after ``give_up_s`` (None: never) the error is raised."""
    delay, started = 0.1, time.monotonic()
    while True:
        try:
            return work()
        except OperationalError as exc:
            if not is_locked(exc) or (give_up_s is not None and time.monotonic() - started > give_up_s):
                raise
            log.warning("%s: the database is locked; trying again in %.1f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
