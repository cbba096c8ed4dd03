"""The value passed between formats, passes and measurement: a path and the format it holds."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Format = Literal["keras", "savedmodel", "onnx", "tflite"]
FORMATS: tuple[str, ...] = ("keras", "savedmodel", "onnx", "tflite")


@dataclass(frozen=True)
class Artifact:
    """A model on disk.

    ``keras``: a Keras 3 ``.keras`` file or an HDF5 ``.h5`` file (Keras 3 or tf-keras), told apart by
    suffix after import normalises it. ``savedmodel``: a folder holding ``saved_model.pb``.
    ``onnx``: a ``.onnx`` file, or a folder holding ``model.onnx`` and its external-data files.
    ``tflite``: a ``.tflite`` flatbuffer.
    """

    path: Path
    format: Format

    @property
    def onnx_file(self) -> Path:
        """The ``.onnx`` file itself (inside the folder when the model has external data)."""
        if self.format != "onnx":
            raise ValueError(f"not an ONNX artifact: {self.format}")
        return self.path / "model.onnx" if self.path.is_dir() else self.path
