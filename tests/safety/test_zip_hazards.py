"""Hostile zip archives are refused, not rewritten; sizes are capped while streaming."""
from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from engine.errors import UnsafeFileError
from engine.formats import prepare_upload
from engine.formats.zipsafe import ZipLimits, safe_extract


def _listing(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.mark.parametrize(("name", "pattern"), [
    ("../evil.txt", r"points outside the archive \('\.\.'\)"),
    ("a/../../evil.txt", r"points outside the archive"),
    ("/tmp/evil.txt", r"is an absolute path"),
    ("C:/evil.txt", r"is an absolute path"),
    ("..\\evil.txt", r"contains a backslash"),
])
def test_zip_slip_entry_refused(name: str, pattern: str, tmp_path: Path) -> None:
    src = tmp_path / "upload" / "u.zip"
    src.parent.mkdir()
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("saved_model.pb", b"x")
        zf.writestr(name, b"pwned")
    before = _listing(tmp_path)
    with pytest.raises(UnsafeFileError, match=pattern):
        prepare_upload(src, tmp_path / "work")
    assert not (tmp_path / "evil.txt").exists()
    assert {p for p in _listing(tmp_path) - before if not p.startswith("work")} == set()


def test_zip_symlink_entry_refused(tmp_path: Path) -> None:
    src = tmp_path / "u.zip"
    with zipfile.ZipFile(src, "w") as zf:
        link = zipfile.ZipInfo("model.onnx")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeFileError, match=r"'model.onnx' is a symbolic link"):
        prepare_upload(src, tmp_path / "work")
    assert not (tmp_path / "work" / "onnx").exists()


@pytest.fixture(scope="session")
def zeros_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 GiB of zeros deflated into about 2 MB, written in 16 MiB chunks."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    chunk = bytes(16 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo("model.onnx")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as entry:
            for _ in range(128):
                entry.write(chunk)
    return path


def test_zip_bomb_refused_while_streaming(zeros_bomb: Path, tmp_path: Path) -> None:
    assert zeros_bomb.stat().st_size < 4 << 20
    with pytest.raises(UnsafeFileError, match=r"expands more than 200:1 \(a zip bomb\)"):
        prepare_upload(zeros_bomb, tmp_path / "work")
    written = sum(p.stat().st_size for p in (tmp_path / "work").rglob("*") if p.is_file())
    assert written < 8 << 20


def test_zip_total_size_capped_while_streaming(zeros_bomb: Path, tmp_path: Path) -> None:
    limits = ZipLimits(max_total_bytes=32 << 20, max_ratio=1e9)
    with pytest.raises(UnsafeFileError, match=r"expands to more than 32 MiB"):
        safe_extract(zeros_bomb, tmp_path / "out", limits)


def test_zip_with_10k_entries_refused(tmp_path: Path) -> None:
    src = tmp_path / "many.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for i in range(10_000):
            zf.writestr(f"f{i}.bin", b"")
    with pytest.raises(UnsafeFileError, match=r"10000 entries, more than the 2000"):
        prepare_upload(src, tmp_path / "work")


def test_zip_with_overlapping_entries_refused(tmp_path: Path) -> None:
    src = tmp_path / "overlap.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("a.bin", b"A" * 100)
        zf.writestr("b.bin", b"B" * 100)
    data = bytearray(src.read_bytes())
    second = data.rfind(b"PK\x01\x02")  # the central record of b.bin: point it at a.bin's header
    data[second + 42: second + 46] = struct.pack("<I", 0)
    src.write_bytes(bytes(data))
    with pytest.raises(UnsafeFileError, match=r"overlap"):
        safe_extract(src, tmp_path / "out")


def test_zip_bytes_named_onnx_treated_as_zip(tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("../../escape.onnx", b"x")
    with pytest.raises(UnsafeFileError, match=r"zip entry '\.\./\.\./escape.onnx'"):
        prepare_upload(src, tmp_path / "work")
