"""This host's read cache of a remote artifact store, bounded in bytes (least recently used goes first).

Entries are immutable (content-addressed), so a cached copy never goes stale; it only goes away when
the cache needs room. An entry appears by rename once fully downloaded and verified.
"""
from __future__ import annotations

import os
import shutil
import threading

import uuid
from pathlib import Path
from typing import Callable

from storage.store_base import size_of

_lock = threading.Lock()


class ReadCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def get(self, relpath: str, fetch: Callable[[Path], None]) -> Path:
        """The cached copy of ``relpath``; ``fetch(tmp)`` fills a temporary path on a miss."""
        final = self.root / relpath
        if final.exists():
            os.utime(final.parent)  # the entry folder's mtime is its last use
            return final
        tmp = self.root / ".tmp" / uuid.uuid4().hex / final.name
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            fetch(tmp)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.exists():
                    raise
        finally:
            shutil.rmtree(tmp.parent, ignore_errors=True)
        os.utime(final.parent)
        self.evict(keep=final.parent)
        return final

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last use, bytes, entry folder) of each cached artifact."""
        out = []
        for entry in self.root.glob("??/*"):
            if entry.parent.name != ".tmp" and entry.is_dir():
                out.append((entry.stat().st_mtime, size_of(entry), entry))
        return out

    def used_bytes(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Remove least recently used entries until the cache fits its bound (never ``keep``)."""
        removed = []
        with _lock:
            entries = sorted(self.entries())
            total = sum(size for _, size, _ in entries)
            for _, size, entry in entries:
                if total <= self.max_bytes:
                    break
                if keep is not None and entry == keep:
                    continue
                shutil.rmtree(entry, ignore_errors=True)
                total -= size
                removed.append(entry)
        return removed


