"""Alembic from day one: ``upgrade()`` brings any database to head; ``check()`` fails loudly when behind."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import get_engine
from storage.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaBehindError(RuntimeError):
    """The database schema is older than this version of Trimline."""


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Create or migrate the database to the newest revision (idempotent)."""
    url = url or get_settings().database_url
    current = current_revision(url)
    _refuse_unknown(current)
    if current is None:
        _refuse_unstamped(url)
    cfg = _config(url)
    with get_engine(url).connect() as conn:
        cfg.attributes["connection"] = conn
        with _foreign_keys_off(conn):
            command.upgrade(cfg, "head")
    verify_schema(url)


def _refuse_unstamped(url: str) -> None:
    """Trimline's tables with no alembic_version row: their schema is unknown, so nothing is created over them."""
    from sqlalchemy import inspect

    from storage.tables import Base

    present = set(inspect(get_engine(url)).get_table_names()) & set(Base.metadata.tables)
    if present:
        raise SchemaBehindError(
            f"the database has Trimline's tables ({', '.join(sorted(present)[:3])}…) but no schema revision "
            "(no alembic_version), so its schema is unknown; restore it from a backup, or move it aside and "
            "run `trimline migrate` to start an empty one")


def verify_schema(url: str | None = None) -> None:
    """Every table and column this Trimline uses is there: a database stamped at head but edited by hand
    (or restored half-way) is refused at start, not when a page first touches the missing column."""
    from sqlalchemy import inspect

    from storage.tables import Base

    inspector = inspect(get_engine(url))
    present = set(inspector.get_table_names())
    for table in Base.metadata.sorted_tables:
        if table.name not in present:
            missing = f"has no table {table.name}"
        else:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            lacking = [c.name for c in table.columns if c.name not in columns]
            if not lacking:
                continue
            missing = f"lacks column{'s' if len(lacking) > 1 else ''} {', '.join(f'{table.name}.{c}' for c in lacking)}"
        raise SchemaBehindError(
            f"the database says it is at revision {current_revision(url)} but {missing}; restore it from a "
            "backup, or move it aside and run `trimline migrate` to start an empty one")


@contextmanager
def _foreign_keys_off(conn) -> Iterator[None]:  # noqa: ANN001
    """SQLite batch migrations copy a table and drop the old one; with foreign keys on, that drop deletes
    (CASCADE) or nulls (SET NULL) every row pointing at it. The pragma only works outside a transaction,
    so it is set on the driver connection before alembic begins one, and restored after."""
    raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")


def current_revision(url: str | None = None) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("sqlite://")).get_current_head()


def missing_revisions(current: str | None) -> list[str]:
    """``"0002 (workers on many hosts: ...)"`` for each revision after ``current`` up to head, oldest first."""
    script = ScriptDirectory.from_config(_config("sqlite://"))
    revisions = list(script.iterate_revisions("head", current or "base"))
    return [f"{r.revision} ({(r.doc or '').strip().splitlines()[0].rstrip('.,:;')})" for r in reversed(revisions)
            if r.revision != current]


def _refuse_unknown(current: str | None) -> None:
    """A database migrated by a newer Trimline: this host's code must not touch it."""
    script = ScriptDirectory.from_config(_config("sqlite://"))
    try:
        known = current is None or script.get_revision(current) is not None
    except Exception:  # alembic raises its own error for a revision it has never heard of
        known = False
    if not known:
        raise SchemaBehindError(
            f"the database is at revision {current}, newer than this Trimline knows (its newest is "
            f"{head_revision()}); upgrade Trimline on this host to the release that serves the database")


def check(url: str | None = None) -> None:
    """Raise SchemaBehindError naming the missing migrations (and the command that applies them) when
    the database is not at head, or naming the unknown revision when it is newer than this Trimline."""
    current, head = current_revision(url), head_revision()
    if current == head:
        verify_schema(url)
        return
    _refuse_unknown(current)
    missing = missing_revisions(current)
    raise SchemaBehindError(
        f"the database is at revision {current or 'none'} but this Trimline needs {head}; missing migration"
        f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}; run `trimline migrate` (or `make run`, "
        "which migrates) first")
