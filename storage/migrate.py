"""Alembic from day one: ``upgrade()`` brings any database to head; ``check()`` fails loudly when behind."""
from __future__ import annotations

from pathlib import Path

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
    cfg = _config(url)
    with get_engine(url).connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(url: str | None = None) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("sqlite://")).get_current_head()


def check(url: str | None = None) -> None:
    """Raise SchemaBehindError with the command that fixes it when the database is not at head."""
    current, head = current_revision(url), head_revision()
    if current != head:
        raise SchemaBehindError(
            f"the database is at revision {current or 'none'} but this Trimline needs {head}; "
            "run `trimline migrate` (or `make run`, which migrates) first"
        )
