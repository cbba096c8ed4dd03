"""Loading Keras files without letting them run code.

Order matters: cheap structural checks (zip layout, HDF5 storage), then the config allow-list, and
only then Keras itself with ``safe_mode``. Call the loaders only inside a job's child process.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from engine.errors import FormatError, first_line
from engine.formats.h5safe import check_h5, is_hdf5, read_h5_model_config
from engine.formats.keras_allowlist import check_keras_config, uses_tfmot
from engine.formats.zipsafe import ZipLimits, check_archive

KERAS_ZIP_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")


def read_keras_zip_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, metadata) of a Keras 3 ``.keras`` archive; FormatError when it is not one."""
    try:
        with zipfile.ZipFile(path) as zf:
            check_archive(zf, path.stat().st_size, ZipLimits())
            names = set(zf.namelist())
            if "config.json" not in names:
                raise FormatError("the zip is not a Keras model (no config.json); save it with model.save")
            # config/metadata are small JSON; cap the read so a bomb cannot inflate here
            config = json.loads(zf.open("config.json").read(64 << 20))
            metadata = json.loads(zf.open("metadata.json").read(1 << 20)) if "metadata.json" in names else {}
    except (zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise FormatError("the .keras file is damaged; save the model again") from exc
    return config, metadata


def check_keras_file(path: Path, produced: bool = False) -> dict[str, Any]:
    """Run every check that does not need Keras; return ``{"keras_version", "n_layers", "kind", "tfmot"}``.

    ``produced``: a pass output Trimline wrote (tfmot's quantization wrappers are allowed, see
    ``keras_allowlist.TFMOT_CLASSES``); uploads are checked with ``produced=False``. Raises
    UnsafeFileError naming the first refused layer or storage feature, FormatError when the file is not
    a Keras model.
    """
    if is_hdf5(path):
        check_h5(path)
        config, version = read_h5_model_config(path)
        kind = "h5-keras2" if version and version.startswith("2.") else "h5-keras3"
    elif zipfile.is_zipfile(path):
        config, metadata = read_keras_zip_config(path)
        version, kind = metadata.get("keras_version"), "keras-zip"
        _check_weights_member(path)
    else:
        raise FormatError("the file is neither a .keras archive nor an HDF5 .h5 model")
    n_layers = check_keras_config(config, produced=produced)
    tfmot = produced and kind == "h5-keras2" and uses_tfmot(config)
    return {"keras_version": version, "n_layers": n_layers, "kind": kind, "tfmot": tfmot}


def _check_weights_member(path: Path) -> None:
    """The weights inside a .keras archive are HDF5 too: give them the same storage checks."""
    import tempfile

    from engine.formats.zipsafe import safe_extract

    with tempfile.TemporaryDirectory(prefix="keras-weights-") as tmp:
        folder = safe_extract(path, Path(tmp))
        weights = folder / "model.weights.h5"
        if weights.is_file():
            check_h5(weights)


def load_keras(path: Path, produced: bool = False) -> Any:
    """Load a Keras 3 ``.keras``/``.h5`` file after the allow-list check, with ``safe_mode`` on.

    Keras-2 ``.h5`` files are handed to :func:`load_tf_keras_h5`. Raises UnsafeFileError for refused
    content, FormatError when Keras cannot read the file. ``produced`` as in :func:`check_keras_file`.
    """
    facts = check_keras_file(path, produced=produced)
    if facts["kind"] == "h5-keras2":
        return load_tf_keras_h5(path, checked=True, tfmot=facts["tfmot"])
    import keras

    try:
        return keras.models.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:
        raise FormatError(f"Keras could not load the model: {first_line(exc, limit=300).rstrip('.')}") from exc


def load_tf_keras_h5(path: Path, *, checked: bool = False, tfmot: bool = False) -> Any:
    """Load a Keras-2 (tf-keras) HDF5 model after the same checks; raises as :func:`load_keras`.
    ``tfmot``: a checked QAT output, loaded in tfmot's quantize scope so its wrappers resolve."""
    if not checked:
        check_keras_file(path)
    import contextlib

    import tf_keras

    scope = contextlib.nullcontext()
    if tfmot:
        import tensorflow_model_optimization as tfmot_lib

        scope = tfmot_lib.quantization.keras.quantize_scope()
    try:
        with scope:
            return tf_keras.models.load_model(str(path), compile=False)
    except Exception as exc:
        raise FormatError(f"tf-keras could not load the model: {first_line(exc, limit=300).rstrip('.')}") from exc
