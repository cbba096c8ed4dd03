"""Where Trimline keeps its state. Every setting comes from the environment.

``TRIMLINE_HOME`` holds everything a default install writes (default ``~/.trimline``):
the SQLite database, the queue file, the artifact store, job scratch folders and logs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    queue_url: str
    job_timeout_s: float
    job_memory_mb: int
    store_url: str = ""  # a folder, or an fsspec URL such as s3://bucket/prefix
    cache_mb: int = 10240  # this host's read cache of a remote store

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache" / "artifacts"

    @property
    def cache_bytes(self) -> int:
        return self.cache_mb << 20

    @property
    def store_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def scratch_dir(self) -> Path:
        return self.home / "scratch"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def upload_dir(self) -> Path:
        return self.home / "uploads"


def get_settings() -> Settings:
    """Read the settings afresh (tests change the environment between cases)."""
    home = Path(os.environ.get("TRIMLINE_HOME") or Path.home() / ".trimline").expanduser().resolve()
    return Settings(
        home=home,
        database_url=os.environ.get("TRIMLINE_DATABASE_URL") or f"sqlite:///{home / 'trimline.db'}",
        queue_url=os.environ.get("TRIMLINE_QUEUE_URL") or f"sqlite:///{home / 'queue.db'}",
        job_timeout_s=float(os.environ.get("TRIMLINE_JOB_TIMEOUT_S", "3600")),
        job_memory_mb=int(os.environ.get("TRIMLINE_JOB_MEMORY_MB", "12288")),
        store_url=os.environ.get("TRIMLINE_STORE_URL") or str(home / "artifacts"),
        cache_mb=int(os.environ.get("TRIMLINE_CACHE_MB", "10240")),
    )
