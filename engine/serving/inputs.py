"""One input for "try it", from what a user has at hand: an image file, a row of a data set, or JSON."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError


def from_json(text: str) -> np.ndarray:
    try:
        return np.asarray(json.loads(text), dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise InputError(f"the input is not a JSON array of numbers ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise InputError("the input is not a JSON array of numbers (nested too deeply to read)") from None


def from_image(data: bytes, shape: list[Any]) -> np.ndarray:
    """The image resized to the model's input (NHWC or NCHW, 1 or 3 channels), scaled to [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    dims = [d if isinstance(d, int) and d > 0 else None for d in shape[1:]]
    if len(dims) != 3:
        raise InputError(f"the model's input has shape {shape}; an image fits a 4-d (N, H, W, C) or (N, C, H, W) input")
    channels_first = dims[0] in (1, 3) and dims[2] not in (1, 3)
    h, w, c = (dims[1], dims[2], dims[0]) if channels_first else (dims[0], dims[1], dims[2])
    if None in (h, w, c):
        raise InputError(f"the model's input {shape} has no fixed image size to resize to")
    try:
        image = Image.open(io.BytesIO(data)).convert("L" if c == 1 else "RGB").resize((w, h))
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"the file is not an image Pillow can read ({exc})") from None
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels[..., None] if c == 1 else pixels
    return np.transpose(pixels, (2, 0, 1)) if channels_first else pixels


def from_dataset(path: Path, row: int) -> np.ndarray:
    from engine.formats import read_dataset

    data = read_dataset(path)
    x = data.x if not isinstance(data.x, dict) else next(iter(data.x.values()))
    if not 0 <= row < len(x):
        raise InputError(f"row {row} is outside the data set (rows 0 to {len(x) - 1})")
    return np.asarray(x[row], dtype=np.float32)


def label_from_dataset(path: Path, row: int) -> int | float | None:
    """The label the data set gives ``row`` (None for a set without labels), so a try-it answer can be checked
    against it."""
    from engine.formats import read_dataset

    y = read_dataset(path).y
    if y is None or not 0 <= row < len(y) or np.ndim(y[row]) != 0:
        return None
    value = y[row].item()
    return int(value) if float(value).is_integer() else float(value)
