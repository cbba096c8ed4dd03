"""An LRU response cache keyed by model, version and a hash of the input tensors, bounded by entries and bytes.

The key is XXH3-128 (tens of GB/s: hashing a 224x224x3 float image takes about 0.03 ms, against about
0.4 ms for SHA-256) with a seed drawn per process. XXH3 is not a cryptographic hash, so a hit is only
taken when the stored inputs equal the request's, byte for byte: a colliding input (crafted or not)
is a miss, never another request's answer. The stored inputs count toward the byte bound.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

import numpy as np
import xxhash

Feeds = dict[str, np.ndarray]
_SEED = secrets.randbits(64)


def input_key(model: str, version: int, feeds: Feeds) -> bytes:
    """A digest of the model, version and every input's name, dtype, shape and bytes."""
    digest = xxhash.xxh3_128(f"{model}\0{version}".encode(), seed=_SEED)
    for name in sorted(feeds):
        value = np.ascontiguousarray(feeds[name])
        digest.update(f"\0{name}\0{value.dtype.str}\0{value.shape}\0".encode())
        digest.update(memoryview(value).cast("B"))
    return digest.digest()


def _same(stored: Feeds, feeds: Feeds) -> bool:
    return stored.keys() == feeds.keys() and all(
        stored[k].dtype == feeds[k].dtype and stored[k].shape == feeds[k].shape and np.array_equal(stored[k], feeds[k])
        for k in stored)


def _frozen(arrays: list[np.ndarray]) -> list[np.ndarray]:
    out = [np.array(a, copy=True) for a in arrays]
    for a in out:
        a.flags.writeable = False
    return out


class ResponseCache:
    """Thread-safe. ``get`` returns the stored outputs (never mutate them) or None, and counts hits and misses."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[bytes, tuple[Feeds, list[np.ndarray], int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes, feeds: Feeds) -> list[np.ndarray] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or not _same(item[0], feeds):
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: bytes, feeds: Feeds, outputs: list[np.ndarray]) -> None:
        size = sum(int(o.nbytes) for o in outputs) + sum(int(v.nbytes) for v in feeds.values())
        if size > self.max_bytes:
            return
        names = list(feeds)
        item = (dict(zip(names, _frozen([feeds[n] for n in names]))), _frozen(outputs), size)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[2]
            self._items[key] = item
            self.bytes += size
            while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
                _, (_, _, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped

    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None
