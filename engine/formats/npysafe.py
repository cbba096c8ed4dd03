"""Reading untrusted ``.npy``/``.npz`` files: no pickles, no headers that promise absurd sizes.

``np.load(allow_pickle=False)`` already refuses object arrays, but only after it has started reading,
and it trusts the header's shape when allocating; the header is read and judged first.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from engine.errors import FormatError, UnsafeFileError
from engine.formats.zipsafe import ZipLimits, check_archive

DEFAULT_MAX_ARRAY_BYTES = 2 << 30
NPY_MAGIC = b"\x93NUMPY"


def check_npy_header(stream: IO[bytes], name: str, budget: int = DEFAULT_MAX_ARRAY_BYTES) -> tuple[tuple[int, ...], np.dtype]:
    """Read one ``.npy`` header from ``stream`` and return (shape, dtype).

    Raises UnsafeFileError for object (pickled) dtypes or a declared size over ``budget``,
    FormatError when the header is not a valid ``.npy`` header.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(stream)
        else:
            shape, _, dtype = fmt.read_array_header_2_0(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise FormatError(f"the array '{name}' has a damaged .npy header; save the data again") from exc
    if dtype.hasobject:
        raise UnsafeFileError(f"the array '{name}' holds Python objects (pickles), which can run code on "
                              "load; Trimline refuses it — save numeric arrays only")
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > budget:
        raise UnsafeFileError(f"the array '{name}' declares shape {tuple(shape)} ({size >> 20} MiB), more "
                              f"than the {budget >> 20} MiB Trimline accepts; upload a smaller data set")
    return tuple(shape), dtype


def check_npz(path: Path, budget: int = DEFAULT_MAX_ARRAY_BYTES) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Check every member of an ``.npz`` archive (names, layout, headers); return {name: (shape, dtype)}."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FormatError("the .npz file is damaged; save it again with numpy.savez") from exc
    members: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with zf:
        check_archive(zf, path.stat().st_size, ZipLimits())
        total = 0
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise FormatError(f"the .npz member '{info.filename}' is not a .npy array; save the data "
                                  "with numpy.savez")
            with zf.open(info) as f:
                shape, dtype = check_npy_header(f, info.filename[:-4], budget)
            total += int(np.prod(shape, dtype=object)) * dtype.itemsize
            members[info.filename[:-4]] = (shape, dtype)
        if total > budget:
            raise UnsafeFileError(f"the .npz arrays together declare {total >> 20} MiB, more than the "
                                  f"{budget >> 20} MiB Trimline accepts; upload a smaller data set")
    return members


def load_npz(path: Path, budget: int = DEFAULT_MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
    """Every array of a checked ``.npz`` (or a single ``.npy``, returned as ``x``)."""
    with open(path, "rb") as f:
        is_npy = f.read(6) == NPY_MAGIC
    if is_npy:
        with open(path, "rb") as f:
            check_npy_header(f, "x", budget)
        return {"x": _load(path)}
    check_npz(path, budget)
    with np.load(path, allow_pickle=False) as data:
        return {name: _as_array(data, name) for name in data.files}


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError("the .npy file is damaged or truncated; save it again") from exc


def _as_array(data: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(data[name])
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FormatError(f"the array '{name}' is damaged or truncated; save the data again") from exc
