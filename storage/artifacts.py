"""The content-addressed artifact store: a local folder (default) or any fsspec URL (``s3://bucket/prefix``).

An artifact is a file or a folder (SavedModel, ONNX with external data), stored once under
``<sha256[:2]>/<sha256>/<name>``. Publishing is atomic on every backend: bytes go under a temporary
name first and reach their final name only when complete, and the caller inserts the row that points
at them afterwards, in its own transaction. Relative paths come from the database, never from a user,
and are still checked (``check_relpath``) before any backend sees them. ``resolve`` returns a local
path: the folder itself, or a copy in this host's read cache (bounded in bytes) for remote stores.
"""
from __future__ import annotations

import threading
from pathlib import Path

from storage.settings import get_settings
from storage.store_base import (ArtifactPathError, Store, StoredArtifact, StoreError, check_name,  # noqa: F401
                                check_relpath, refuse_links, sha256_of, size_of)

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


def remove(relpath: str, store: Path | None = None) -> None:
    """Delete one artifact; callers remove only artifacts no row refers to (``storage.hygiene``)."""
    check_relpath(relpath)
    _store(store).remove(relpath)


def relpaths(store: Path | None = None) -> list[str]:
    return _store(store).relpaths()
