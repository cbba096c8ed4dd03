"""A server's memory limit (``--memory-mb``, ``TRIMLINE_SERVE_MEMORY_MB``, the Deploy page's setting; by
default half of this machine's memory), enforced as the job runner enforces a job's: by watching the
resident memory of the process.

- Before a version loads, it is refused when the server's memory plus the size of its files passes the limit.
- While versions load, a watchdog samples the memory; a version during whose load it passed the limit is
  refused once the load returns: dropped, its memory given back, and the server goes on serving what it
  served (a reload answers with the sentence; at start the server stops with it).
- The watchdog stops the server when its memory passes the limit with no load in progress, or passes twice
  the limit (at least the limit and 1 GB) during one, a load that allocates without end: the machine comes
  before the served models.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import threading
import time
from pathlib import Path
from typing import Callable

import psutil

from engine.errors import EngineError

CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")


def machine_mb() -> int:
    """This machine's memory in MB, or its container's limit when that is lower."""
    total = psutil.virtual_memory().total
    try:
        text = CGROUP_LIMIT.read_text().strip()
        if text.isdigit():
            total = min(total, int(text))
    except OSError:
        pass
    return total >> 20


def default_limit_mb() -> int:
    """The limit a server gets when nobody sets one: half of this machine's memory."""
    return max(machine_mb() // 2, 256)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def files_mb(path: Path) -> float:
    """The size of a model's files: a load needs at least as much memory."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def give_back() -> None:
    """Free what dropped versions held and return it to the system."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by later loads instead
        pass


class MemoryGuard:
    """``limit_mb`` for this process; ``on_exceeded(sentence)`` is called (once) when the server must stop."""

    def __init__(self, limit_mb: int, on_exceeded: Callable[[str], None], every_s: float = 0.2) -> None:
        self.limit_mb, self._on_exceeded, self._every_s = limit_mb, on_exceeded, every_s
        self._lock = threading.Lock()
        self._loading, self._peak = 0, 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, daemon=True, name="trimline-memory")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self._every_s):
            rss = rss_mb()
            with self._lock:
                if self._stop.is_set():  # ``stop`` comes before the ``end`` of a failed start
                    return
                loading = self._loading > 0
                if loading:
                    self._peak = max(self._peak, rss)
            if rss > (max(2 * self.limit_mb, self.limit_mb + 1024) if loading else self.limit_mb):
                sentence = (f"the server used {rss:.0f} MB of memory, more than its limit of {self.limit_mb} MB "
                            "(--memory-mb or TRIMLINE_SERVE_MEMORY_MB), and was stopped")
                self._on_exceeded(sentence)
                return

    def begin(self) -> None:
        """Versions start loading (until ``end``): the watchdog records their peak instead of stopping the server."""
        with self._lock:
            self._loading += 1

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Give back what refused versions held, and wait (still counted as a load) until the memory is under
        the limit or ``timeout_s`` has passed: a dropped session's threads can let go of it a moment later on a
        busy machine, and the watchdog must not stop the server for memory already on its way back. Memory that
        does not come back in time still stops it."""
        deadline = time.monotonic() + timeout_s
        give_back()
        while rss_mb() > self.limit_mb and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            give_back()

    def end(self) -> None:
        """Call after the memory of refused versions is given back."""
        with self._lock:
            self._loading -= 1

    def _refusal(self, what: str, detail: str) -> EngineError:
        return EngineError(f"{what} cannot load within this server's memory limit of {self.limit_mb} MB: {detail}; "
                           "raise the limit (--memory-mb, or the memory limit on the Deploy page) or serve fewer "
                           "versions")

    def check_room(self, what: str, path: Path) -> None:
        """Refuse before loading when the model's files alone do not fit in what is left."""
        used, size = rss_mb(), files_mb(path)
        if used + size > self.limit_mb:
            files = f" and the model's files alone are {size:.0f} MB" if size >= 1 else ""
            raise self._refusal(what, f"the server already uses {used:.0f} MB{files}")
        with self._lock:
            self._peak = used

    def check_loaded(self, what: str) -> None:
        """Refuse a version whose load took the server past its limit (at any moment while it loaded)."""
        used = rss_mb()
        with self._lock:
            peak = max(self._peak, used)
        if peak > self.limit_mb:
            raise self._refusal(what, f"loading it took the server to {peak:.0f} MB")
