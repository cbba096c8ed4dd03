"""Real models for the format tests, built once per session (small, except MobileNetV2 at 224×224)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

LIGHT = Path(__import__("onnx").__file__).parent / "backend" / "test" / "data" / "light"


def zip_folder(folder: Path, out: Path, prefix: str = "") -> Path:
    """Zip every file under ``folder`` (names relative to it, under ``prefix``)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return out


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture(scope="session")
def mobilenet_keras(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """(MobileNetV2 α=1.0 at 224×224 as .keras, its count_params())."""
    import keras

    model = keras.applications.MobileNetV2(weights=None)
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenet.keras"
    model.save(path)
    return path, model.count_params()


@pytest.fixture(scope="session")
def transformer_keras(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A tiny two-input transformer block over int32 token/segment ids with two outputs."""
    import keras
    from keras import layers

    tokens = keras.Input((16,), dtype="int32", name="tokens")
    segments = keras.Input((16,), dtype="int32", name="segments")
    x = layers.Add(name="embed_sum")([layers.Embedding(100, 32, name="tok_embed")(tokens),
                                      layers.Embedding(2, 32, name="seg_embed")(segments)])
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=16, name="mha")(x, x)
    x = layers.LayerNormalization(name="norm")(layers.Add(name="residual")([attended, x]))
    cls = layers.Dense(4, name="cls")(layers.GlobalAveragePooling1D(name="pool")(x))
    lm = layers.Dense(100, name="lm")(x)
    model = keras.Model([tokens, segments], [cls, lm], name="tiny_transformer")
    path = tmp_path_factory.mktemp("transformer") / "transformer.keras"
    model.save(path)
    return path, model.count_params()


@pytest.fixture(scope="session")
def tf_keras_h5(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A Keras-2 (tf-keras) CNN saved as HDF5."""
    import tf_keras

    model = tf_keras.Sequential([tf_keras.Input((8, 8, 1), name="pixels"), tf_keras.layers.Conv2D(4, 3),
                                 tf_keras.layers.BatchNormalization(), tf_keras.layers.Flatten(),
                                 tf_keras.layers.Dense(3, activation="softmax")])
    path = tmp_path_factory.mktemp("tfkeras") / "legacy.h5"
    model.save(path)
    return path, model.count_params()


@pytest.fixture(scope="session")
def digits_savedmodel(digits_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits CNN exported as a SavedModel folder (Keras 3 ``model.export``)."""
    import keras

    model = keras.models.load_model(digits_files[0], compile=False)
    folder = tmp_path_factory.mktemp("savedmodel") / "digits_sm"
    model.export(folder, verbose=False)
    return folder


@pytest.fixture(scope="session")
def digits_tflite(digits_savedmodel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorflow as tf

    path = tmp_path_factory.mktemp("tflite") / "digits.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(digits_savedmodel)).convert())
    return path
