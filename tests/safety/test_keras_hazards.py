"""Keras files that would run code or read other files on load are refused before Keras sees them."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import UnsafeFileError
from engine.formats import inspect_model, load_keras, prepare_upload


@pytest.fixture()
def sentinel(tmp_path: Path) -> Path:
    return tmp_path / "outside" / "SENTINEL"


def _lambda_model(sentinel: Path):
    import keras

    sentinel.parent.mkdir(parents=True, exist_ok=True)
    # the path is a constant inside the lambda's code object, which Keras serializes with the model
    touch = eval(f"lambda x: (open({str(sentinel)!r}, 'w').close(), x)[1]")  # noqa: S307
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(touch, name="my_lambda"),
                              keras.layers.Dense(2)])
    sentinel.unlink(missing_ok=True)  # building the model ran the lambda once
    return model


def test_lambda_keras_refused_and_sentinel_never_written(sentinel: Path, tmp_path: Path) -> None:
    import keras

    path = tmp_path / "lambda.keras"
    _lambda_model(sentinel).save(path)
    with pytest.raises(UnsafeFileError, match=r"uses a Lambda layer \('my_lambda'\), which runs arbitrary "
                                              r"Python code on load; Trimline refuses it"):
        prepare_upload(path, tmp_path / "work")
    with pytest.raises(UnsafeFileError, match="Lambda"):
        load_keras(path)
    assert not sentinel.exists()
    keras.models.load_model(path, safe_mode=False)  # the hazard is real: an unchecked load runs it
    assert sentinel.exists()


def test_lambda_h5_refused_without_running(sentinel: Path, tmp_path: Path) -> None:
    path = tmp_path / "lambda.h5"
    _lambda_model(sentinel).save(path)
    with pytest.raises(UnsafeFileError, match=r"Lambda layer \('my_lambda'\)"):
        prepare_upload(path, tmp_path / "work")
    assert not sentinel.exists()


def test_custom_object_keras_refused(tmp_path: Path) -> None:
    import keras

    @keras.saving.register_keras_serializable(package="evil")
    class Sneaky(keras.layers.Layer):
        def call(self, x):
            return x

    model = keras.Sequential([keras.Input((3,)), Sneaky(name="sneaky")])
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises(UnsafeFileError, match=r"custom object 'evil>Sneaky' \('sneaky'\).*rebuild the layer"):
        prepare_upload(path, tmp_path / "work")


def test_tf_op_lambda_in_keras2_h5_refused(tmp_path: Path) -> None:
    import tensorflow as tf
    import tf_keras

    inputs = tf_keras.Input((4,))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(2)(tf.math.sin(inputs)))
    path = tmp_path / "legacy.h5"
    model.save(path)
    with pytest.raises(UnsafeFileError, match=r"uses a TFOpLambda layer"):
        prepare_upload(path, tmp_path / "work")


@pytest.fixture()
def plain_h5(digits_files: tuple[Path, Path], tmp_path: Path) -> Path:
    import keras

    path = tmp_path / "digits.h5"
    keras.models.load_model(digits_files[0], compile=False).save(path)
    return path


def test_h5_external_dataset_refused_and_canary_untouched(plain_h5: Path, tmp_path: Path) -> None:
    import h5py

    canary = tmp_path / "canary.bin"
    canary.write_bytes(b"SECRET" * 100)
    with h5py.File(plain_h5, "a") as f:
        f.create_dataset("model_weights/leak", shape=(600,), dtype="u1", external=[(str(canary), 0, 600)])
    with pytest.raises(UnsafeFileError, match=r"'model_weights/leak' stores its data in an external file"):
        prepare_upload(plain_h5, tmp_path / "work")
    assert canary.read_bytes() == b"SECRET" * 100


def test_h5_declaring_65536_square_refused(plain_h5: Path, tmp_path: Path) -> None:
    import h5py

    with h5py.File(plain_h5, "a") as f:
        f.create_dataset("model_weights/huge", shape=(65536, 65536), dtype="f4", chunks=(64, 64))
    assert plain_h5.stat().st_size < 10 << 20  # declared, never written
    with pytest.raises(UnsafeFileError, match=r"'model_weights/huge' declares 16384 MiB .*\(65536, 65536\)"):
        prepare_upload(plain_h5, tmp_path / "work")


def test_keras_archive_weights_with_external_dataset_refused(digits_files: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    import zipfile

    import h5py

    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(digits_files[0]) as zf:
        zf.extractall(folder)
    canary = tmp_path / "canary.bin"
    canary.write_bytes(np.arange(64, dtype="u1").tobytes())
    with h5py.File(folder / "model.weights.h5", "a") as f:
        f.create_dataset("leak", shape=(64,), dtype="u1", external=[(str(canary), 0, 64)])
    path = tmp_path / "rebuilt.keras"
    shutil.make_archive(str(path.with_suffix("")), "zip", folder)
    path.with_suffix(".zip").rename(path)
    with pytest.raises(UnsafeFileError, match=r"'leak' stores its data in an external file"):
        prepare_upload(path, tmp_path / "work")


def test_h5_soft_link_refused(plain_h5: Path, tmp_path: Path) -> None:
    import h5py

    with h5py.File(plain_h5, "a") as f:
        f["elsewhere"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/data")
    with pytest.raises(UnsafeFileError, match=r"'elsewhere' is a link"):
        inspect_model(prepare_upload(plain_h5, tmp_path / "work"))
