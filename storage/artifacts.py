"""Content-addressed artifact store under ``TRIMLINE_HOME/artifacts``.

An artifact is a file or a folder (SavedModel, ONNX with external data). It is copied into a temp
name inside the store, fsynced, then renamed to ``<sha256[:2]>/<sha256>/<name>`` — so no reader ever
sees a half-written artifact, and identical content is stored once. Paths handed out are resolved
from the database id by the caller and checked to stay under the store: a user-supplied path never
reaches the filesystem.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from storage.settings import get_settings

CHUNK = 1 << 20


class ArtifactPathError(ValueError):
    """A stored artifact path that would leave the store, or is a link."""


@dataclass(frozen=True)
class StoredArtifact:
    sha256: str
    relpath: str
    size_bytes: int


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


def _fsync_tree(path: Path) -> None:
    items = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for item in items:
        with item.open("rb") as fh:
            os.fsync(fh.fileno())


def _copy(src: Path, dst: Path) -> None:
    if src.is_symlink():
        raise ArtifactPathError(f"refusing to store a symbolic link: {src.name}")
    if src.is_dir():
        for item in src.rglob("*"):
            if item.is_symlink():
                raise ArtifactPathError(f"refusing to store a symbolic link: {item.name}")
        shutil.copytree(src, dst, symlinks=False)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def put(src: Path, name: str | None = None, store: Path | None = None) -> StoredArtifact:
    """Copy ``src`` (file or folder) into the store atomically and return where it lives."""
    store = store or get_settings().store_dir
    store.mkdir(parents=True, exist_ok=True)
    digest = sha256_of(src)
    name = name or src.name
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise ArtifactPathError(f"not a plain file name: {name!r}")
    relpath = f"{digest[:2]}/{digest}/{name}"
    final = store / relpath
    if not final.exists():
        tmp = store / ".tmp" / uuid.uuid4().hex
        try:
            _copy(src, tmp / name)
            _fsync_tree(tmp / name)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp / name, final)
            except OSError:
                if not final.exists():  # a concurrent writer may have won the race with identical bytes
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return StoredArtifact(sha256=digest, relpath=relpath, size_bytes=size_of(final))


def resolve(relpath: str, store: Path | None = None) -> Path:
    """The absolute path of a stored artifact, refusing anything that escapes the store or is a link."""
    store = (store or get_settings().store_dir).resolve()
    candidate = store / relpath
    if os.path.isabs(relpath) or ".." in Path(relpath).parts or "\\" in relpath:
        raise ArtifactPathError(f"invalid artifact path: {relpath!r}")
    if candidate.is_symlink():
        raise ArtifactPathError(f"artifact path is a link: {relpath!r}")
    resolved = candidate.resolve()
    if not resolved.is_relative_to(store):
        raise ArtifactPathError(f"artifact path leaves the store: {relpath!r}")
    return resolved
