"""The artifact store on each backend: a local folder and an S3-compatible server (moto's, over HTTP).

Both keep content addressing, atomic publish and the refusal of escaping paths; the S3 store reads
through a host cache bounded in bytes and verifies what it downloads.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from storage import artifacts
from storage.db import reset_engines
from tests.mounts import small_tmpfs

BAD_PATHS = ["../x", "../../etc/passwd", "/etc/passwd", "a/../../x", "..\\x", "%2e%2e%2f/x", "%252e/x", "#/../x",
             "ab/./cd", "ab//cd", ""]


def _clear_store_cache() -> None:
    artifacts._stores.clear()  # the store objects are per process and URL; each test gets a new URL


@pytest.fixture(params=["folder", "s3"])
def store_home(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``home`` with its artifact store on a shared folder, then on a fresh S3 bucket."""
    if request.param == "folder":
        monkeypatch.setenv("TRIMLINE_STORE_URL", str(home.parent / "shared-store"))
    else:
        server = request.getfixturevalue("s3_server")
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("TRIMLINE_STORE_URL", f"s3://{server.create_bucket()}/trimline")
    _clear_store_cache()
    yield home
    _clear_store_cache()


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def test_put_is_content_addressed_and_deduplicated_on_every_backend(store_home: Path, tmp_path: Path) -> None:
    src = _file(tmp_path, "m.onnx", b"model bytes")
    first = artifacts.put(src)
    second = artifacts.put(_file(tmp_path, "copy.onnx", b"model bytes"), name="m.onnx")
    assert first == second
    assert first.relpath == f"{first.sha256[:2]}/{first.sha256}/m.onnx"
    assert artifacts.resolve(first.relpath).read_bytes() == b"model bytes"
    assert artifacts.get_store().relpaths() == [first.relpath]


def test_folders_round_trip_with_their_layout(store_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sm"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"pb")
    (folder / "variables" / "v.data").write_bytes(b"data")
    stored = artifacts.put(folder)
    local = artifacts.resolve(stored.relpath)
    assert stored.size_bytes == 6 and stored.sha256 == artifacts.sha256_of(local)
    assert (local / "variables" / "v.data").read_bytes() == b"data"


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_escaping_paths_are_refused_on_every_backend(store_home: Path, bad: str) -> None:
    with pytest.raises(artifacts.ArtifactPathError):
        artifacts.resolve(bad)
    with pytest.raises(artifacts.ArtifactPathError):
        artifacts.get_store().exists(bad)


@pytest.mark.parametrize("store_home", ["s3"], indirect=True)  # a folder store publishes by one rename
def test_an_unfinished_upload_is_invisible_and_a_tampered_object_is_refused(store_home: Path, tmp_path: Path) -> None:
    store = artifacts.get_store()
    stored = artifacts.put(_file(tmp_path, "a.bin", b"a" * 100))
    # Bytes that reached their final key without a manifest (an upload cut short) are not an artifact.
    orphan = "ff/" + "f" * 64 + "/b.bin"
    store.fs.pipe_file(store._key("objects", orphan), b"half")
    assert not store.exists(orphan)
    with pytest.raises(artifacts.StoreError, match="missing"):
        artifacts.resolve(orphan)
    # Bytes changed behind the store's back do not match the manifest and are not served.
    store.fs.pipe_file(store._key("objects", stored.relpath), b"b" * 100)
    with pytest.raises(artifacts.StoreError, match="does not match its manifest"):
        artifacts.resolve(stored.relpath)
    assert not list((store_home / "cache" / "artifacts").glob("??/*/*"))


@pytest.mark.parametrize("store_home", ["s3"], indirect=True)  # a folder store is read in place
def test_read_cache_stays_within_its_byte_bound(store_home: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMLINE_CACHE_MB", "1")
    _clear_store_cache()
    store = artifacts.get_store()
    stored = [artifacts.put(_file(tmp_path, f"{i}.bin", bytes([i]) * 400_000)) for i in range(4)]
    for item in stored:
        assert artifacts.resolve(item.relpath).read_bytes()[:1] == bytes([stored.index(item)])
        assert store.cache.used_bytes() <= 1 << 20
    cached = {p.parent.name for p in (store_home / "cache" / "artifacts").glob("??/*/*")}
    assert cached == {s.sha256 for s in stored[-2:]}  # the least recently used went first
    assert artifacts.resolve(stored[0].relpath).read_bytes() == bytes([0]) * 400_000  # fetched again


def test_a_store_that_cannot_be_written_raises_a_sentence(home: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, s3_server) -> None:  # noqa: ANN001
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRIMLINE_STORE_URL", "s3://no-such-bucket-trimline/x")
    _clear_store_cache()
    with pytest.raises(artifacts.StoreError, match=r"s3://no-such-bucket-trimline/x could not take a\.bin"):
        artifacts.put(_file(tmp_path, "a.bin", b"a"))


def test_a_full_folder_store_raises_a_sentence(home: Path, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "full", "64k") as mount:
        with pytest.raises(artifacts.StoreError, match="could not take big.bin: it is full"):
            artifacts.put(_file(tmp_path, "big.bin", b"x" * 200_000), store=mount)
        assert not list(mount.glob("??/*/*"))
    reset_engines()
