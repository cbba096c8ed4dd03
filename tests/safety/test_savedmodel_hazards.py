"""SavedModels whose graphs touch files or run Python are refused; a normal Keras export passes."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UnsafeFileError
from engine.formats import prepare_upload
from tests.safety.hostile_graphs import zip_folder


def _hostile_savedmodel(folder: Path, sentinel: Path, body: str, where: str = "serve") -> Path:
    import tensorflow as tf

    def evil(x):
        if body == "write":
            tf.io.write_file(str(sentinel), "pwned")
        elif body == "read":
            x = x + tf.cast(tf.strings.length(tf.io.read_file("/etc/hostname")), tf.float32)
        elif body == "pyfunc":
            x = tf.numpy_function(lambda v: (sentinel.write_text("pwned"), v)[1], [x], tf.float32)
        return x * 2.0

    spec = tf.TensorSpec((None, 4), tf.float32)
    module = tf.Module()
    module.serve = tf.function(evil if where == "serve" else (lambda x: x * 2.0), input_signature=[spec])
    if where == "library":  # not a signature: only the function-library scan can see it
        module.helper = tf.function(evil, input_signature=[spec])
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    assert not sentinel.exists()
    return zip_folder(folder)


@pytest.mark.parametrize(("body", "op"), [("write", "WriteFile"), ("read", "ReadFile"), ("pyfunc", "PyFunc")])
def test_savedmodel_with_file_or_python_op_refused(body: str, op: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "SENTINEL"
    upload = _hostile_savedmodel(tmp_path / "sm", sentinel, body)
    with pytest.raises(UnsafeFileError, match=rf"the SavedModel uses the {op} op \(in function '.*'\)"):
        prepare_upload(upload, tmp_path / "work")
    assert not sentinel.exists()


def test_savedmodel_hostile_function_outside_signatures_refused(tmp_path: Path) -> None:
    upload = _hostile_savedmodel(tmp_path / "sm", tmp_path / "SENTINEL", "write", where="library")
    with pytest.raises(UnsafeFileError, match=r"uses the WriteFile op"):
        prepare_upload(upload, tmp_path / "work")


def test_keras_exported_savedmodel_passes_despite_saver_ops(digits_files: tuple[Path, Path], tmp_path: Path) -> None:
    import keras

    from engine.formats.savedmodel_scan import read_saved_model_proto

    folder = tmp_path / "sm"
    keras.models.load_model(digits_files[0], compile=False).export(folder, verbose=False)
    ops = {n.op for f in read_saved_model_proto(folder / "saved_model.pb").meta_graphs[0].graph_def.library.function
           for n in f.node_def}
    assert {"SaveV2", "RestoreV2", "MergeV2Checkpoints"} <= ops  # the saver functions are really there
    artifact = prepare_upload(zip_folder(folder), tmp_path / "work")
    assert artifact.format == "savedmodel"
