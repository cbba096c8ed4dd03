"""The content-addressed artifact store: atomic, deduplicated, and closed to path tricks."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage import artifacts


def test_put_stores_by_sha256_and_deduplicates(tmp_path: Path) -> None:
    store = tmp_path / "store"
    src = tmp_path / "a.onnx"
    src.write_bytes(b"model bytes")
    first = artifacts.put(src, store=store)
    second = artifacts.put(src, store=store)
    assert first == second
    assert first.relpath.startswith(first.sha256[:2] + "/" + first.sha256)
    assert (store / first.relpath).read_bytes() == b"model bytes"
    assert not any((store / ".tmp").iterdir())


def test_put_copies_folders_and_hashes_their_content(tmp_path: Path) -> None:
    folder = tmp_path / "sm"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"pb")
    (folder / "variables" / "v.data").write_bytes(b"data")
    stored = artifacts.put(folder, store=tmp_path / "store")
    assert (tmp_path / "store" / stored.relpath / "variables" / "v.data").read_bytes() == b"data"
    assert stored.size_bytes == 6


def test_put_refuses_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("x")
    link = tmp_path / "link.onnx"
    link.symlink_to(target)
    with pytest.raises(artifacts.ArtifactPathError, match="symbolic link"):
        artifacts.put(link, store=tmp_path / "store")


@pytest.mark.parametrize("bad", ["../x", "../../etc/passwd", "/etc/passwd", "a/../../x", "..\\x", "%2e%2e%2f/x",
                                 "%252e/x", "#/../x"])
def test_resolve_refuses_paths_that_escape_the_store(tmp_path: Path, bad: str) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (tmp_path / "x").write_text("outside")
    try:
        resolved = artifacts.resolve(bad, store=store)
    except artifacts.ArtifactPathError:
        return
    # Percent-encoded names are literal names here: they must still resolve inside the store.
    assert resolved.is_relative_to(store.resolve())
    assert not resolved.exists()


def test_resolve_refuses_a_link_inside_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    os.symlink("/etc", store / "ab")
    with pytest.raises(artifacts.ArtifactPathError):
        artifacts.resolve("ab", store=store)
    with pytest.raises(artifacts.ArtifactPathError):
        artifacts.resolve("ab/passwd", store=store)
