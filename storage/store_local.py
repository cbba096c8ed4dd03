"""The artifact store as a folder: the default under TRIMLINE_HOME, or a mount every host shares.

Bytes are copied under ``.tmp/<random>``, fsynced, then renamed to their final name: a rename within
one filesystem is atomic, so no reader ever sees a half-written artifact.
"""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path

from storage.store_base import ArtifactPathError, StoredArtifact, StoreError, check_relpath, size_of


def _fsync_tree(path: Path) -> None:
    items = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for item in items:
        with item.open("rb") as fh:
            os.fsync(fh.fileno())


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "it is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "it is not writable"
    return exc.strerror or type(exc).__name__


def _readable(folder: Path) -> None:
    """A stored folder (a SavedModel) readable by every job's sandboxed user: an upload unpacked into a private
    temporary folder (0700) would otherwise keep that mode, and a job running as ``nobody`` could not open it."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self.url = str(self.root)

    def put(self, src: Path, name: str, digest: str) -> StoredArtifact:
        relpath = f"{digest[:2]}/{digest}/{name}"
        final = self.root / relpath
        if not final.exists():
            tmp = self.root / ".tmp" / uuid.uuid4().hex
            try:
                tmp.mkdir(parents=True)
                if src.is_dir():
                    shutil.copytree(src, tmp / name, symlinks=False)
                    _readable(tmp / name)
                else:
                    shutil.copyfile(src, tmp / name)
                _fsync_tree(tmp / name)
                final.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.rename(tmp / name, final)
                except OSError:
                    if not final.exists():  # a concurrent writer may have won the race with identical bytes
                        raise
            except OSError as exc:
                raise StoreError(f"the artifact store {self.url} could not take {name}: {_reason(exc)}; "
                                 "free space or fix its permissions, then retry") from exc
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return StoredArtifact(sha256=digest, relpath=relpath, size_bytes=size_of(final))

    def resolve(self, relpath: str) -> Path:
        check_relpath(relpath)
        root = self.root.resolve()
        candidate = root / relpath
        for parent in [candidate, *candidate.parents]:
            if parent == root:
                break
            if parent.is_symlink():
                raise ArtifactPathError(f"artifact path is a link: {relpath!r}")
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root):
            raise ArtifactPathError(f"artifact path leaves the store: {relpath!r}")
        return resolved

    def exists(self, relpath: str) -> bool:
        return self.resolve(relpath).exists()

    def remove(self, relpath: str) -> None:
        """Delete one published artifact (the caller checked that no row refers to it)."""
        path = self.resolve(relpath)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # the <sha256> folder, when nothing else was published under that digest
        except OSError:
            pass

    def relpaths(self) -> list[str]:
        """Every published artifact (``xx/<sha256>/<name>``), for backups."""
        if not self.root.exists():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob("??/*/*") if p.parts[-3] != ".tmp")

    def check_writable(self) -> None:
        probe = self.root / ".tmp" / f"probe-{uuid.uuid4().hex}"
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"the artifact store {self.url} cannot be written: {_reason(exc)}") from exc
