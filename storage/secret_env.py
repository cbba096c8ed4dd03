"""Secret settings leave the environment once read: a process keeps them in memory only.

``TRIMLINE_PASSWORD`` and database or queue URLs (which may carry a password) are read at start-up,
then removed from ``os.environ`` *and* wiped from the environment block the kernel shows in
``/proc/<pid>/environ``, so no child inherits them and no process that can read that file learns them.
Code asks ``secret_or_env(name)`` instead of ``os.environ``.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

SECRET_VARIABLES = ("TRIMLINE_PASSWORD", "TRIMLINE_DATABASE_URL", "TRIMLINE_QUEUE_URL")
_sealed: dict[str, str] = {}


def secret_or_env(name: str) -> str | None:
    """The variable from the environment, or the value this process sealed away from it."""
    value = os.environ.get(name)
    return value if value is not None else _sealed.get(name)


def seal_secrets() -> dict[str, str]:
    """Move the secret variables out of this process's environment; returns them (a launcher hands them
    to the processes it starts, and to no others)."""
    for name in SECRET_VARIABLES:
        value = os.environ.pop(name, None)
        if value is not None:
            _sealed[name] = value
    _wipe_initial_environment(set(_sealed))
    return dict(_sealed)


def _wipe_initial_environment(names: set[str]) -> None:
    """Overwrite ``NAME=value`` in the block the process was started with (what /proc/<pid>/environ reads).
    ``os.environ.pop`` only unlinks it from libc's list; the bytes stay there until overwritten."""
    if not names:
        return
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start and env_end (fields 50 and 51)
    except (OSError, IndexError, ValueError):
        return
    if not 0 < start < end or end - start > 1 << 24:
        return
    block = ctypes.string_at(start, end - start)
    offset = 0
    for entry in block.split(b"\0"):
        name = entry.split(b"=", 1)[0].decode(errors="replace")
        if name in names and b"=" in entry:
            value_at = start + offset + len(name) + 1
            ctypes.memset(value_at, 0, len(entry) - len(name) - 1)
        offset += len(entry) + 1
