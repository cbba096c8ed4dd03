"""Data sets: normalise an upload (.npz, CSV, zip of images) to one checked ``dataset.npz``, read it
back safely, and say exactly why it does not fit a model."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import FormatError
from engine.formats.npysafe import NPY_MAGIC, load_npz
from engine.formats.zipsafe import is_zip, open_zip

MAX_CSV_BYTES = 512 << 20


@dataclass(frozen=True)
class DatasetArrays:
    """A data set loaded in memory. ``x`` is one array, or a dict by input name for multi-input models."""

    x: np.ndarray | dict[str, np.ndarray]
    y: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        first = next(iter(self.x.values())) if isinstance(self.x, dict) else self.x
        return int(first.shape[0])


def prepare_dataset(src: Path, workdir: Path, *, label_column: str | None = None,
                    image_size: tuple[int, int] | None = None,
                    channels: int | None = None) -> tuple[Path, dict[str, Any]]:
    """Detect the data set in ``src`` by content and write ``workdir/dataset.npz`` (``x``, optional ``y``).

    Returns (path, meta) with meta ``{n_samples, x_shape, x_dtype, has_labels, n_classes, label_range,
    source_format}``. Raises FormatError for what cannot be read, UnsafeFileError for pickles, bombs or
    absurd declared sizes.
    """
    src, workdir = Path(src), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not src.is_file() or src.stat().st_size == 0:
        raise FormatError("the data set upload is empty or not a file; upload it again")
    with open(src, "rb") as f:
        head = f.read(6)
    classes: list[str] | None = None
    if head == NPY_MAGIC or (is_zip(src) and _is_npz(src)):
        arrays, source = load_npz(src), "npz"
        if "x" not in arrays:
            raise FormatError("the .npz has no array named 'x'; save it with numpy.savez(path, x=..., y=...)")
        x, y = arrays["x"], arrays.get("y")
    elif is_zip(src):
        from engine.formats.dataset_images import read_image_zip

        x, raw = read_image_zip(src, workdir, image_size=image_size, channels=channels)
        y, classes = _labels(raw)
        source = "images"
    else:
        x, y, classes = _read_csv(src, label_column)
        source = "csv"
    meta = _describe(x, y, source)
    if classes is not None:
        meta["classes"] = classes
    out = workdir / "dataset.npz"
    np.savez(out, **({"x": x, "y": y} if y is not None else {"x": x}))
    return out, meta


def _is_npz(src: Path) -> bool:
    with open_zip(src) as zf:
        names = zf.namelist()
    return bool(names) and all(n.endswith(".npy") for n in names)


def _labels(raw: list[str]) -> tuple[np.ndarray, list[str] | None]:
    """Integer class labels as they are; any other labels become indices into their sorted names."""
    try:
        return np.array([int(v) for v in raw], dtype=np.int64), None
    except ValueError:
        classes = sorted(set(raw))
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[v] for v in raw], dtype=np.int64), classes


def _read_csv(src: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    if src.stat().st_size > MAX_CSV_BYTES:
        raise FormatError(f"the CSV is larger than {MAX_CSV_BYTES >> 20} MiB; upload it as .npz instead")
    try:
        text = src.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError("the data set is not a .npz, an image zip or a UTF-8 CSV file") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2 or not rows[0]:
        raise FormatError("the CSV needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label_column is None and "label" in header:
        label_column = "label"
    if label_column is not None and label_column not in header:
        raise FormatError(f"the CSV has no column '{label_column}'; its columns are {', '.join(header[:10])}")
    label_at = header.index(label_column) if label_column is not None else None
    features, labels = [], []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise FormatError(f"CSV row {n} has {len(row)} values but the header has {len(header)}")
        try:
            features.append([float(v) for i, v in enumerate(row) if i != label_at])
        except ValueError:
            raise FormatError(f"CSV row {n} has a non-numeric feature value; feature columns must be "
                              "numbers (name the label column with label_column)") from None
        if label_at is not None:
            labels.append(row[label_at].strip())
    x = np.array(features, dtype=np.float32)
    if label_at is None:
        return x, None, None
    y, classes = _labels(labels)
    return x, y, classes


def _describe(x: np.ndarray, y: np.ndarray | None, source: str) -> dict[str, Any]:
    if x.dtype.kind not in "biuf" or x.ndim < 1 or x.shape[0] == 0:
        raise FormatError("the data set's x must be a non-empty numeric array with samples on the first axis")
    if y is not None and len(y) != len(x):
        raise FormatError(f"x has {len(x)} samples but y has {len(y)} labels; they must match")
    integer_labels = y is not None and y.dtype.kind in "iu"
    return {
        "n_samples": int(x.shape[0]),
        "x_shape": [int(d) for d in x.shape],
        "x_dtype": x.dtype.name,
        "has_labels": y is not None,
        "n_classes": int(len(np.unique(y))) if integer_labels else None,
        "label_range": [int(y.min()), int(y.max())] if integer_labels else None,
        "source_format": source,
    }


def read_dataset(path: Path) -> DatasetArrays:
    """The arrays of a data set file (checked headers, no pickles). ``x`` is one array, or a dict by
    input name when the file holds ``x_<name>`` arrays. Raises FormatError/UnsafeFileError."""
    arrays = load_npz(Path(path))
    if "x" in arrays:
        x: np.ndarray | dict[str, np.ndarray] = arrays["x"]
    else:
        x = {k[2:]: v for k, v in arrays.items() if k.startswith("x_")}
        if not x:
            raise FormatError("the data set has no array named 'x'; save it with numpy.savez(path, x=..., y=...)")
    return DatasetArrays(x=x, y=arrays.get("y"))

