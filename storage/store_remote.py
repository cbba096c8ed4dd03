"""The artifact store on any fsspec URL (``s3://bucket/prefix`` for S3-compatible object stores).

Layout under the URL: ``objects/<relpath>[/<member>]`` holds the bytes, ``manifests/<relpath>.json``
lists each file with its size and sha256. Publishing uploads every file under ``.tmp/<random>``,
moves it to its final key, and writes the manifest last; an artifact exists only once its manifest
does, so a reader never sees half an upload. Reads go through this host's bounded cache and are
verified against the manifest. The endpoint of an S3-compatible server comes from the standard
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` variables, credentials from the usual AWS ones.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from storage.store_base import StoredArtifact, StoreError, check_relpath, file_sha256, sha256_of
from storage.sentences import first_line
from storage.store_cache import ReadCache


def _masked(url: str) -> str:
    return url.split("?", 1)[0]


class RemoteStore:
    def __init__(self, url: str, cache_dir: Path, cache_bytes: int) -> None:
        import fsspec

        self.url = _masked(url)
        options: dict = {}
        if url.startswith("s3://"):
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            options = {"use_listings_cache": False, "skip_instance_cache": True}
            if endpoint:
                options["endpoint_url"] = endpoint
        self.fs, base = fsspec.url_to_fs(url, **options)
        self.base = base.rstrip("/")
        self.cache = ReadCache(cache_dir, cache_bytes)

    def _key(self, *parts: str) -> str:
        return "/".join([self.base, *[p for p in parts if p]])

    def _manifest_key(self, relpath: str) -> str:
        return self._key("manifests", relpath + ".json")

    def _manifest(self, relpath: str) -> dict | None:
        try:
            return json.loads(self.fs.cat_file(self._manifest_key(relpath)))
        except FileNotFoundError:
            return None
        except Exception as exc:  # unreachable endpoint, refused credentials, ...
            raise StoreError(f"the artifact store {self.url} could not be read: {first_line(exc)}") from exc

    def put(self, src: Path, name: str, digest: str) -> StoredArtifact:
        relpath = f"{digest[:2]}/{digest}/{name}"
        existing = self._manifest(relpath)
        if existing is not None:
            return StoredArtifact(sha256=digest, relpath=relpath, size_bytes=sum(f["size"] for f in existing["files"]))
        members = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        files = [{"path": p.relative_to(src).as_posix() if src.is_dir() else "", "size": p.stat().st_size,
                  "sha256": sha256_of(p)} for p in members]
        manifest = {"sha256": digest, "kind": "dir" if src.is_dir() else "file", "files": files}
        tmp = self._key(".tmp", uuid.uuid4().hex)
        try:
            for i, (path, entry) in enumerate(zip(members, files)):
                self.fs.put_file(str(path), f"{tmp}/{i}")
                self.fs.mv(f"{tmp}/{i}", self._key("objects", relpath, entry["path"]))
            self.fs.pipe_file(f"{tmp}/manifest", json.dumps(manifest).encode())
            self.fs.mv(f"{tmp}/manifest", self._manifest_key(relpath))
        except Exception as exc:
            raise StoreError(f"the artifact store {self.url} could not take {name}: {first_line(exc)}; "
                             "check that it is reachable, writable and has room, then retry") from exc
        finally:
            try:
                if self.fs.exists(tmp):
                    self.fs.rm(tmp, recursive=True)
            except Exception:  # leftovers under .tmp/ are harmless; never mask the real outcome
                pass
        return StoredArtifact(sha256=digest, relpath=relpath, size_bytes=sum(f["size"] for f in files))

    def resolve(self, relpath: str) -> Path:
        check_relpath(relpath)
        return self.cache.get(relpath, lambda tmp: self._download(relpath, tmp))

    def _download(self, relpath: str, tmp: Path) -> None:
        manifest = self._manifest(relpath)
        if manifest is None:
            raise StoreError(f"artifact {relpath} is missing from the store {self.url}")
        for entry in manifest["files"]:
            if entry["path"]:
                check_relpath(entry["path"])
            local = tmp / entry["path"] if entry["path"] else tmp
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.fs.get_file(self._key("objects", relpath, entry["path"]), str(local))
            except Exception as exc:
                raise StoreError(f"the artifact store {self.url} could not be read: {first_line(exc)}") from exc
            if file_sha256(local) != entry["sha256"]:
                raise StoreError(f"artifact {relpath} in the store {self.url} does not match its manifest")

    def exists(self, relpath: str) -> bool:
        check_relpath(relpath)
        return self._manifest(relpath) is not None

    def remove(self, relpath: str) -> None:
        """Delete one published artifact: its manifest first (it stops being listed), then its objects."""
        try:
            self.fs.rm(self._manifest_key(relpath))
            if self.fs.exists(self._key("objects", relpath)):
                self.fs.rm(self._key("objects", relpath), recursive=True)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise StoreError(f"the artifact store {self.url} could not delete {relpath}: {first_line(exc)}") from exc

    def relpaths(self) -> list[str]:
        prefix = self._key("manifests") + "/"
        try:
            keys = self.fs.find(prefix)
        except FileNotFoundError:
            return []
        return sorted(k[len(prefix):-len(".json")] for k in keys if k.startswith(prefix) and k.endswith(".json"))

    def check_writable(self) -> None:
        probe = self._key(".tmp", f"probe-{uuid.uuid4().hex}")
        try:
            self.fs.pipe_file(probe, b"ok")
            self.fs.rm(probe)
        except Exception as exc:
            raise StoreError(f"the artifact store {self.url} cannot be written: {first_line(exc)}") from exc
