"""What every artifact store shares: the stored record, the two errors, path checks and digests."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
    def remove(self, relpath: str) -> None: ...
    def check_writable(self) -> None: ...


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's sorted (relative name, content) pairs."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0")
            digest.update(bytes.fromhex(sha256_of(item)))
        return digest.hexdigest()
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    """sha256 of one file's bytes, read in chunks (``hashlib.file_digest``)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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
