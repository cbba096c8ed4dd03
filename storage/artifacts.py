"""The content-addressed artifact store: a local folder (default) or any fsspec URL (``s3://bucket/prefix``).

An artifact is a file or a folder (SavedModel, ONNX with external data), stored once under
``<sha256[:2]>/<sha256>/<name>``. Publishing is atomic on every backend: bytes go under a temporary
name first and reach their final name only when complete, and the caller inserts the row that points
at them afterwards, in its own transaction. Relative paths come from the database, never from a user,
and are still checked (``check_relpath``) before any backend sees them. ``resolve`` returns a local
path: the folder itself, or a copy in this host's read cache (bounded in bytes) for remote stores.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from storage.settings import get_settings

CHUNK = 1 << 20
_PART = re.compile(r"^[^/\\%#?\x00-\x1f\x7f]+$")  # no separators, escapes, fragments or control characters


class ArtifactPathError(ValueError):
    """A stored artifact path that would leave the store, or is a link."""


class StoreError(RuntimeError):
    """The artifact store could not be written or read; the message says which store and why."""


@dataclass(frozen=True)
class StoredArtifact:
    sha256: str
    relpath: str
    size_bytes: int


class Store(Protocol):
    url: str

    def put(self, src: Path, name: str, digest: str) -> StoredArtifact: ...
    def resolve(self, relpath: str) -> Path: ...
    def exists(self, relpath: str) -> bool: ...
    def relpaths(self) -> list[str]: ...
    def check_writable(self) -> None: ...


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's sorted (relative name, content) pairs."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0")
            digest.update(bytes.fromhex(sha256_of(item)))
        return digest.hexdigest()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def check_name(name: str) -> str:
    if not _PART.match(name or "") or name in (".", ".."):
        raise ArtifactPathError(f"not a plain file name: {name!r}")
    return name


def check_relpath(relpath: str) -> list[str]:
    """The parts of a store-relative path; ArtifactPathError for anything that could leave the store."""
    parts = str(relpath).split("/")
    if not relpath or any(not _PART.match(p) or p in (".", "..") for p in parts):
        raise ArtifactPathError(f"invalid artifact path: {relpath!r}")
    return parts


def refuse_links(src: Path) -> None:
    for item in [src, *(src.rglob("*") if src.is_dir() and not src.is_symlink() else [])]:
        if item.is_symlink():
            raise ArtifactPathError(f"refusing to store a symbolic link: {item.name}")


_lock = threading.Lock()
_stores: dict[tuple[str, str], Store] = {}


def get_store(url: str | None = None) -> Store:
    """The store for ``url`` (default: ``TRIMLINE_STORE_URL``, else the folder under TRIMLINE_HOME)."""
    settings = get_settings()
    url = url or settings.store_url
    key = (url, str(settings.home))
    with _lock:
        if key not in _stores:
            if "://" in url and not url.startswith("file://"):
                from storage.store_remote import RemoteStore

                _stores[key] = RemoteStore(url, settings.cache_dir, settings.cache_bytes)
            else:
                from storage.store_local import LocalStore

                _stores[key] = LocalStore(Path(url.removeprefix("file://")))
        return _stores[key]


def _store(store: Path | None) -> Store:
    if store is None:
        return get_store()
    from storage.store_local import LocalStore

    return LocalStore(store)


def put(src: Path, name: str | None = None, store: Path | None = None) -> StoredArtifact:
    """Publish ``src`` (file or folder) atomically and return where it lives. StoreError when the
    store cannot take it (unwritable, full, unreachable)."""
    name = check_name(name or src.name)
    refuse_links(src)
    return _store(store).put(src, name, sha256_of(src))


def resolve(relpath: str, store: Path | None = None) -> Path:
    """A local path holding the artifact, refusing anything that escapes the store or is a link."""
    check_relpath(relpath)
    return _store(store).resolve(relpath)
