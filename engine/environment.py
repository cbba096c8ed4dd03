"""The home folder and the database a process works in: made ready once, or refused in one sentence.

``ready()`` creates ``TRIMLINE_HOME`` and upgrades the database (or, with ``TRIMLINE_AUTO_MIGRATE=0``,
checks that it is current). A home that is a file or cannot be written, a database URL that cannot
connect, or a setting with an unusable value raise ``ConfigError`` naming the variable to fix.
"""
from __future__ import annotations

import uuid

from engine.errors import ConfigError, first_line
from storage import migrate
from storage.settings import Settings, SettingsError, get_settings

_ready: set[str] = set()


def settings() -> Settings:
    """The settings, or ConfigError naming the variable whose value is unusable."""
    try:
        return get_settings()
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def ready() -> Settings:
    """Check the home folder and bring the database to the newest schema, once per process and URL."""
    current = settings()
    key = f"{current.home}|{current.database_url}"
    if key not in _ready:
        check_home(current)
        open_database(current, upgrade=current.auto_migrate)
        _ready.add(key)
    return current


def check_home(current: Settings) -> None:
    """The home must be a folder this process can write (created when missing)."""
    home = current.home
    if home.exists() and not home.is_dir():
        raise ConfigError(f"TRIMLINE_HOME points at a file ({home}), not a folder; point it at a folder")
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"Trimline cannot write in TRIMLINE_HOME ({home}): {_reason(exc)}; point it at a "
                          "folder this user can write") from None


def open_database(current: Settings, upgrade: bool = True) -> str | None:
    """Upgrade the database to the newest schema (or, with ``upgrade=False``, check that it is there);
    returns its revision. ConfigError when it cannot be opened or is behind."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    try:
        if upgrade:
            migrate.upgrade(current.database_url)
        else:
            migrate.check(current.database_url)
        return migrate.current_revision(current.database_url)
    except migrate.SchemaBehindError as exc:
        raise ConfigError(str(exc)) from None
    except (OperationalError, ArgumentError, NoSuchModuleError, ImportError, OSError) as exc:
        from engine.failures import sentence_for

        if (sentence := sentence_for(exc)) is not None:  # a full disk is not a bad URL
            raise ConfigError(sentence) from None
        raise ConfigError(f"Trimline cannot open the database at {_safe_url(current.database_url)} "
                          f"({first_line(getattr(exc, 'orig', None) or exc)}); check TRIMLINE_DATABASE_URL") from None


def _reason(exc: OSError) -> str:
    return (exc.strerror or first_line(exc)).lower()


def _safe_url(url: str) -> str:
    """The URL without its password: the sentence may be shown on a shared dashboard."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password we could find; show its scheme only
        return url.split(":", 1)[0] + ":…"
