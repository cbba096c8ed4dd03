"""Structural checks on an untrusted HDF5 file before any Keras code reads it.

HDF5 can point a dataset at other files (external storage, virtual datasets) and declare shapes far
larger than the file; h5py would follow those when Keras reads weights. Everything is checked from the
metadata alone, without reading a single dataset value.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import FormatError, UnsafeFileError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
DEFAULT_MAX_DATASET_BYTES = 2 << 30


def is_hdf5(path: Path) -> bool:
    """True when the file starts with the HDF5 signature (Keras never writes a user block)."""
    with open(path, "rb") as f:
        return f.read(8) == HDF5_MAGIC


def check_h5(path: Path, max_dataset_bytes: int = DEFAULT_MAX_DATASET_BYTES) -> None:
    """Raise UnsafeFileError when any object in the file is not a plain group or dataset, a dataset uses
    external or virtual storage, or declares more than ``max_dataset_bytes``; FormatError when h5py
    cannot open the file."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise FormatError("the HDF5 file is damaged or not an HDF5 file; save the model again") from exc
    with f:
        problems: list[str] = []

        def visit(name: str) -> None:
            # get(getlink=True) tells links apart without following them (a soft/external link
            # could point into another file)
            link = f.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                problems.append(f"the HDF5 entry '{name}' is a link to another location")
                return
            obj = f[name]
            if isinstance(obj, h5py.Group):
                return
            if not isinstance(obj, h5py.Dataset):
                problems.append(f"the HDF5 entry '{name}' is not a group or dataset")
                return
            _check_dataset(name, obj, max_dataset_bytes, problems)

        f.visit_links(visit)
        if problems:
            raise UnsafeFileError(f"{problems[0]}; Trimline refuses it — save the weights as plain "
                                  "datasets inside the file")


def _check_dataset(name: str, dset: Any, budget: int, problems: list[str]) -> None:
    if dset.external:
        problems.append(f"the HDF5 dataset '{name}' stores its data in an external file")
        return
    if dset.is_virtual:
        problems.append(f"the HDF5 dataset '{name}' is a virtual dataset reading other files")
        return
    count = 1
    for dim in dset.shape or ():
        count *= int(dim)
    size = count * dset.dtype.itemsize
    if size > budget:
        problems.append(f"the HDF5 dataset '{name}' declares {size >> 20} MiB (shape "
                        f"{tuple(dset.shape)}), more than the {budget >> 20} MiB limit")
    if dset.dtype.kind == "O" or dset.dtype.hasobject:
        problems.append(f"the HDF5 dataset '{name}' holds Python objects")


def read_h5_model_config(path: Path) -> tuple[dict[str, Any], str | None]:
    """(model config, keras_version) from the root attributes; FormatError when there is none."""
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        version = f.attrs.get("keras_version")
    if raw is None:
        raise FormatError("the HDF5 file holds weights only, without a model config; save the whole "
                          "model (model.save) rather than its weights")
    raw = raw.decode() if isinstance(raw, bytes) else str(raw)
    version = version.decode() if isinstance(version, bytes) else (str(version) if version is not None else None)
    try:
        return json.loads(raw), version
    except ValueError as exc:
        raise FormatError("the HDF5 file's model config is not valid JSON; save the model again") from exc
