"""The SavedModels users really export pass the op allow-list: a CNN, MobileNetV2, EfficientNetB0 and a
small transformer (GELU, LayerNorm, attention), exported by Keras 3 as users do (``model.export``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.formats import prepare_upload
from tests.safety.hostile_graphs import zip_folder

pytestmark = pytest.mark.slow


def _transformer():  # noqa: ANN202
    import keras

    tokens = keras.Input((16,), dtype="int32")
    x = keras.layers.Embedding(100, 32)(tokens)
    x = keras.layers.LayerNormalization()(x + keras.layers.MultiHeadAttention(4, 8)(x, x))
    ff = keras.layers.Dense(32)(keras.layers.Dense(64, activation="gelu")(x))
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.LayerNormalization()(x + ff))
    return keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(x))


def _build(name: str, digits_files: tuple[Path, Path]):  # noqa: ANN202
    import keras

    if name == "digits-cnn":
        return keras.models.load_model(digits_files[0], compile=False)
    if name == "mobilenetv2":
        return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)
    if name == "efficientnetb0":
        return keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10)
    return _transformer()


@pytest.mark.parametrize("name", ["digits-cnn", "mobilenetv2", "efficientnetb0", "transformer"])
def test_keras_exported_savedmodels_import(name: str, digits_files: tuple[Path, Path], tmp_path: Path) -> None:
    from engine.formats.savedmodel_scan import read_saved_model_proto

    folder = tmp_path / name
    _build(name, digits_files).export(folder, verbose=False)
    library = read_saved_model_proto(folder / "saved_model.pb").meta_graphs[0].graph_def.library.function
    assert len(library) > 2  # the serving function and the saver's: every one of them was checked
    assert prepare_upload(zip_folder(folder), tmp_path / "work").format == "savedmodel"
