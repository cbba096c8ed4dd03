"""Every setting Trimline reads from the environment, typed, in one place.

``TRIMLINE_HOME`` holds everything a default install writes (default ``~/.trimline``): the SQLite
database, the queue file, the artifact store, job scratch folders and logs. Other modules ask
``get_settings()``; none reads ``os.environ`` for a Trimline setting itself.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.secret_env import secret_or_env


class SettingsError(ValueError):
    """An environment variable holds a value Trimline cannot use; the message names it."""


def _flag(value: Any) -> bool:
    """Any non-empty value turns a flag on, except 0/false/no/off (``TRIMLINE_DEBUG=1``)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("", "0", "false", "no", "off")


Flag = Annotated[bool, BeforeValidator(_flag)]


class Settings(BaseSettings):
    """Read from ``TRIMLINE_*`` variables (and ``PORT``); empty variables count as unset."""

    model_config = SettingsConfigDict(env_prefix="TRIMLINE_", env_ignore_empty=True, frozen=True, extra="ignore")

    home: Path = Field(Path.home() / ".trimline", description="Database, queue, artifacts, logs.")
    database_url: str = Field("", description="Any SQLAlchemy URL; default: a SQLite file in the home.")
    queue_url: str = Field("", description="huey queue: sqlite:///… (default, in the home) or redis://….")
    job_timeout_s: float = Field(3600.0, gt=0, description="Wall-clock limit of one job.")
    job_memory_mb: int = Field(12288, gt=0, description="Memory limit of one job's process tree.")
    lease_s: float = Field(30.0, gt=0, description="How long a job's claim holds without a heartbeat.")
    busy_timeout_s: float = Field(30.0, gt=0, le=3600, description="How long a SQLite write waits for another "
                                                                   "writer's lock before trying again later.")
    password: SecretStr | None = Field(None, description="When set, the dashboard asks for it (12 characters or more).")
    allowed_hosts: str = Field("", description="Host names the dashboard answers to besides loopback, comma-separated.")
    bind_host: str = Field("", description="The address `trimline up` bound the dashboard to (set by it).")
    serve_token: SecretStr | None = Field(None, description="The bearer token `trimline serve` requires.")
    serve_memory_mb: int | None = Field(None, gt=0, description="Memory limit of one model server (`trimline serve "
                                                                "--memory-mb`); default: half this machine's memory.")
    auto_migrate: Flag = Field(True, description="Upgrade the database on first use; off: refuse when behind.")
    debug: Flag = Field(False, description="The CLI shows tracebacks of internal errors.")
    progress: Flag = Field(False, description="The CLI prints job progress even when stderr is not a terminal.")
    port: int = Field(8501, validation_alias="PORT", description="The dashboard's default port.")
    store_url: str = Field("", description="The artifact store: a folder, or an fsspec URL such as "
                                           "s3://bucket/prefix; default: a folder in the home.")
    cache_mb: int = Field(10240, ge=0, description="This host's read cache of a remote store.")

    def model_post_init(self, _context: Any) -> None:
        home = self.home.expanduser().resolve()
        object.__setattr__(self, "home", home)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{home / 'trimline.db'}")
        if not self.queue_url:
            object.__setattr__(self, "queue_url", f"sqlite:///{home / 'queue.db'}")
        if not self.store_url:
            object.__setattr__(self, "store_url", str(home / "artifacts"))

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache" / "artifacts"

    @property
    def cache_bytes(self) -> int:
        return self.cache_mb << 20

    @property
    def store_dir(self) -> Path:
        """The artifact store's folder when it is one (the default, or a mount every host shares); a
        remote store (``s3://``) is read through ``cache_dir`` instead."""
        if "://" in self.store_url and not self.store_url.startswith("file://"):
            return self.home / "artifacts"
        return Path(self.store_url.removeprefix("file://")).expanduser()

    @property
    def scratch_dir(self) -> Path:
        return self.home / "scratch"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def upload_dir(self) -> Path:
        return self.home / "uploads"


_ENV_NAMES = tuple(f.validation_alias if isinstance(f.validation_alias, str) else f"TRIMLINE_{name.upper()}"
                   for name, f in Settings.model_fields.items())
_cache: dict[tuple[str | None, ...], Settings] = {}
SEALED_FIELDS = {"password": "TRIMLINE_PASSWORD", "database_url": "TRIMLINE_DATABASE_URL",
                 "queue_url": "TRIMLINE_QUEUE_URL"}


def get_settings() -> Settings:
    """The settings for the environment as it is now (tests change it between cases); parsed once per
    distinct environment.

    Raises SettingsError naming the variable when a value is unusable (``TRIMLINE_JOB_TIMEOUT_S=soon``).
    """
    key = (os.environ.get("HOME"), os.getcwd(), *(secret_or_env(name) for name in _ENV_NAMES))  # a relative home
    if key not in _cache:
        _cache[key] = _read()
    return _cache[key]


def _read() -> Settings:
    # Secrets a worker or dashboard sealed away from its environment (``storage.secret_env``) still count.
    sealed = {field: value for field, name in SEALED_FIELDS.items()
              if os.environ.get(name) is None and (value := secret_or_env(name)) is not None}
    try:
        return Settings(**sealed)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        alias = Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
        name = alias if isinstance(alias, str) else f"TRIMLINE_{field.upper()}"
        message = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name} is set to {err.get('input')!r}: {message[0].lower() + message[1:]}") from None
