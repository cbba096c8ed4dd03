"""Data files: no pickles, no headers promising absurd sizes, read before any allocation."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import UnsafeFileError
from engine.formats import prepare_dataset, read_dataset


def test_pickled_npz_refused(tmp_path: Path) -> None:
    src = tmp_path / "data.npz"
    np.savez(src, x=np.array([{"__reduce__": "boom"}, None], dtype=object))
    with pytest.raises(UnsafeFileError, match=r"array 'x' holds Python objects \(pickles\)"):
        prepare_dataset(src, tmp_path / "work")
    with pytest.raises(UnsafeFileError):
        read_dataset(src)


def _huge_header() -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (50000, 50000)})
    return buffer.getvalue() + bytes(16)


def test_npy_header_claiming_50000_square_refused(tmp_path: Path) -> None:
    src = tmp_path / "x.npy"
    src.write_bytes(_huge_header())
    with pytest.raises(UnsafeFileError, match=r"declares shape \(50000, 50000\) \(19073 MiB\)"):
        prepare_dataset(src, tmp_path / "work")


def test_npz_member_header_claiming_50000_square_refused(tmp_path: Path) -> None:
    src = tmp_path / "data.npz"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("x.npy", _huge_header())
    with pytest.raises(UnsafeFileError, match=r"array 'x' declares shape \(50000, 50000\)"):
        read_dataset(src)
    assert not (tmp_path / "work").exists()


def test_image_zip_with_slip_entry_refused(tmp_path: Path) -> None:
    src = tmp_path / "images.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("labels.csv", "filename,label\n../a.png,1\n")
        zf.writestr("../a.png", b"x")
    with pytest.raises(UnsafeFileError, match=r"points outside the archive"):
        prepare_dataset(src, tmp_path / "work")
    assert not (tmp_path / "a.png").exists()
