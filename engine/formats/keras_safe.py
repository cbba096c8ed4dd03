"""Loading Keras files without letting them run code. (Deepened by the import-safety work.)"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def load_keras(path: Path) -> Any:
    """Load a Keras 3 ``.keras``/``.h5`` file with ``safe_mode`` on. Call only inside a job's child process."""
    import keras

    return keras.models.load_model(str(path), compile=False, safe_mode=True)
