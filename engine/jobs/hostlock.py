"""A host-wide lock so no CPU-heavy job runs beside a measurement.

Benchmarks take it exclusively; other heavy jobs take it shared. ``flock`` is released by the
kernel when the holder dies, so a crashed worker never leaves the host locked.
"""
from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def host_lock(path: Path, exclusive: bool, on_wait: Callable[[], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Iterator[bool]:
    """Hold the lock; yields False (without holding it) if ``should_stop`` turned true while waiting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with path.open("a+") as fh:
        waited = False
        while True:
            try:
                fcntl.flock(fh, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if should_stop is not None and should_stop():
                    yield False
                    return
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                time.sleep(0.5)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
