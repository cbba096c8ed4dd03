"""A zip of PNG/JPEG images plus ``labels.csv`` (``filename,label``) as one NHWC float32 array."""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from engine.errors import FormatError, UnsafeFileError
from engine.formats.zipsafe import check_entry_name, safe_extract

MAX_IMAGE_PIXELS = 40_000_000  # one 40-megapixel photo; more is a decompression bomb here
MAX_IMAGES = 200_000


def _read_labels(folder: Path) -> list[tuple[str, str]]:
    path = folder / "labels.csv"
    if not path.is_file():
        raise FormatError("the image zip has no labels.csv at its root; add one with columns filename,label")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"filename", "label"} <= set(rows[0]):
        raise FormatError("labels.csv must have a header with the columns filename and label")
    if len(rows) > MAX_IMAGES:
        raise FormatError(f"labels.csv lists {len(rows)} images, more than the {MAX_IMAGES} Trimline accepts")
    return [(r["filename"].strip(), r["label"].strip()) for r in rows]


def _open_image(path: Path, name: str, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.format not in ("PNG", "JPEG"):
                    raise FormatError(f"the image '{name}' is {img.format or 'not an image'}; use PNG or JPEG")
                img = img.convert(mode)
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(img, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsafeFileError(f"the image '{name}' declares more than {MAX_IMAGE_PIXELS} pixels "
                              "(a decompression bomb); Trimline refuses it") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise FormatError(f"the image '{name}' is damaged or not an image; re-export it") from exc
    return array if array.ndim == 3 else array[..., None]


def _guess_channels(folder: Path, first: str) -> int:
    from PIL import Image

    try:
        with Image.open(folder / first) as img:
            return 1 if img.mode in ("1", "L", "LA", "I", "I;16", "F") else 3
    except OSError as exc:
        raise FormatError(f"the image '{first}' is damaged or not an image; re-export it") from exc


def read_image_zip(src: Path, scratch: Path, *, image_size: tuple[int, int] | None, channels: int | None
                   ) -> tuple[np.ndarray, list[str]]:
    """(x NHWC float32 in [0, 1], raw labels) from an image zip unpacked under ``scratch`` (removed after);
    FormatError/UnsafeFileError as it goes."""
    if channels not in (None, 1, 3):
        raise FormatError(f"channels must be 1 or 3, not {channels}")
    folder = safe_extract(src, Path(tempfile.mkdtemp(prefix=".images-", dir=scratch)))
    try:
        rows = _read_labels(folder)
        if not rows:
            raise FormatError("labels.csv lists no images; add one row per image")
        for name, _ in rows:
            check_entry_name(name)
            path = folder / name
            if not path.is_file() or path.is_symlink():
                raise FormatError(f"labels.csv names '{name}', which is not a file in the zip")
        channels = channels or _guess_channels(folder, rows[0][0])
        mode = "L" if channels == 1 else "RGB"
        first = _open_image(folder / rows[0][0], rows[0][0], mode, image_size)
        size = image_size or (first.shape[0], first.shape[1])
        images = [first] + [_open_image(folder / n, n, mode, size) for n, _ in rows[1:]]
        return np.stack(images).astype(np.float32), [label for _, label in rows]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
