"""Importing and inspecting real Keras models: Keras 3 .keras and .h5, tf-keras .h5."""
from __future__ import annotations

import shutil
from pathlib import Path

from engine.formats import inspect_model, prepare_upload


def test_digits_keras_structure_matches_model(digits_files: tuple[Path, Path], workdir: Path) -> None:
    import keras

    model = keras.models.load_model(digits_files[0], compile=False)
    artifact = prepare_upload(digits_files[0], workdir)
    assert artifact.format == "keras" and artifact.path == workdir / "model.keras"
    facts = inspect_model(artifact)
    assert facts["inputs"] == [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    assert facts["outputs"] == [{"name": "output_0", "shape": [None, 10], "dtype": "float32"}]
    assert facts["params"] == model.count_params()
    hist = facts["info"]["op_histogram"]
    assert hist["Conv2D"] == 2 and hist["BatchNormalization"] == 2 and hist["Add"] == 1
    # two 3×3 convs 8×8×16 (1 and 16 input channels), Dense 256→64 (after 2×2 pool) and 64→10
    macs = 64 * 16 * 9 * 1 + 64 * 16 * 9 * 16 + 256 * 64 + 64 * 10
    assert facts["flops"] == 2 * macs
    assert facts["info"]["layout"] == {"image": "NHWC"}
    assert facts["info"]["keras_version"].startswith("3.")


def test_mobilenetv2_flops_match_published_macs(mobilenet_keras: tuple[Path, int], workdir: Path) -> None:
    path, params = mobilenet_keras
    facts = inspect_model(prepare_upload(path, workdir))
    assert facts["params"] == params == 3_538_984
    assert facts["inputs"][0]["shape"] == [None, 224, 224, 3]
    # MobileNetV2 α=1.0 at 224×224 is published as ~300M multiply-adds
    assert 290e6 <= facts["flops"] / 2 <= 310e6
    hist = facts["info"]["op_histogram"]
    assert hist["DepthwiseConv2D"] == 17 and hist["Conv2D"] == 35


def test_transformer_inputs_outputs_listed_when_several(transformer_keras: tuple[Path, int], workdir: Path) -> None:
    path, params = transformer_keras
    facts = inspect_model(prepare_upload(path, workdir))
    assert facts["inputs"] == [{"name": "tokens", "shape": [None, 16], "dtype": "int32"},
                               {"name": "segments", "shape": [None, 16], "dtype": "int32"}]
    assert [o["shape"] for o in facts["outputs"]] == [[None, 4], [None, 16, 100]]
    assert facts["params"] == params
    assert facts["info"]["op_histogram"]["MultiHeadAttention"] == 1
    # projections 3×(16·32·32) + scores 2·16·16·(16+16) + output 16·32·32 + heads 32·4 + 16·32·100
    macs = 3 * 16 * 32 * 32 + 2 * 16 * 16 * 32 + 16 * 32 * 32 + 32 * 4 + 16 * 32 * 100
    assert facts["flops"] == 2 * macs
    assert facts["info"]["output_layers"] == ["cls", "lm"]


def test_tf_keras_h5_loads_with_tf_keras(tf_keras_h5: tuple[Path, int], workdir: Path) -> None:
    path, params = tf_keras_h5
    upload = workdir.parent / "upload.bin"  # the client's name and suffix mean nothing
    shutil.copyfile(path, upload)
    artifact = prepare_upload(upload, workdir)
    assert artifact.path == workdir / "model.h5" and artifact.format == "keras"
    facts = inspect_model(artifact)
    assert facts["params"] == params
    assert facts["inputs"][0] == {"name": "pixels", "shape": [None, 8, 8, 1], "dtype": "float32"}
    assert facts["info"]["file_kind"] == "h5-keras2" and facts["info"]["keras_version"].startswith("2.")
    assert facts["flops"] == 2 * (36 * 4 * 9 + 144 * 3)


def test_keras3_h5_inspected_like_keras_file(digits_files: tuple[Path, Path], tmp_path: Path) -> None:
    import keras

    model = keras.models.load_model(digits_files[0], compile=False)
    h5 = tmp_path / "digits.h5"
    model.save(h5)
    facts = inspect_model(prepare_upload(h5, tmp_path / "work"))
    assert facts["info"]["file_kind"] == "h5-keras3"
    assert facts["params"] == model.count_params()


def _small_cnn(keras, size: int | None, channels: int = 3):  # noqa: ANN001, ANN202
    """Conv, depthwise, separable and dense layers over an image of ``size``×``size`` (None: any size)."""
    from keras import layers

    image = keras.Input((size, size, channels), name="image")
    x = layers.Conv2D(8, 3, padding="same", name="stem")(image)
    x = layers.DepthwiseConv2D(3, strides=2, name="dw")(x)
    x = layers.SeparableConv2D(16, 3, name="sep")(x)
    x = layers.Conv2DTranspose(4, 2, strides=2, name="up")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(image, layers.Dense(5, name="head")(x))


def _inspect(model, tmp_path: Path, name: str) -> dict:  # noqa: ANN001
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return inspect_model(prepare_upload(path, tmp_path / f"work_{name}"))


def test_open_height_width_counted_at_the_stated_size(tmp_path: Path) -> None:
    """A model saved for any image size is counted at 224×224 (the benchmark form's default), as the same
    model built at 224×224 is, and says so; before, only the dense head was counted."""
    import keras

    open_facts = _inspect(_small_cnn(keras, None), tmp_path, "open")
    fixed = _inspect(_small_cnn(keras, 224), tmp_path, "fixed")
    assert open_facts["inputs"][0]["shape"] == [None, None, None, 3]
    assert open_facts["info"]["flops_at"] == [{"key": "image:1", "input": "image", "position": 1, "size": 224},
                                              {"key": "image:2", "input": "image", "position": 2, "size": 224}]
    assert "flops_at" not in fixed["info"]
    assert fixed["flops"] > 100 * 2 * 16 * 5  # far more than the head alone
    assert abs(open_facts["flops"] - fixed["flops"]) <= 1e-6 * fixed["flops"]
    assert open_facts["info"]["flops_unknown_layers"] == [] and "flops_note" not in open_facts["info"]


def test_nested_backbone_with_open_sizes_counted_at_the_outer_size(tmp_path: Path) -> None:
    """A backbone saved for any size inside a model that fixes 96×96 is counted at 96×96, like a fixed one."""
    import keras
    from keras import layers

    def wrapped(backbone_size: int | None) -> keras.Model:
        backbone = _small_cnn(keras, backbone_size)
        return keras.Sequential([keras.Input((96, 96, 3)), backbone, layers.Dense(2)])

    open_facts, fixed = _inspect(wrapped(None), tmp_path, "nested_open"), _inspect(wrapped(96), tmp_path, "nested")
    assert fixed["flops"] and open_facts["flops"] == fixed["flops"]
    assert "flops_at" not in open_facts["info"]


def test_open_sequence_length_counted_at_128(tmp_path: Path) -> None:
    import keras
    from keras import layers

    def lstm(steps: int | None) -> keras.Model:
        tokens = keras.Input((steps,), dtype="int32", name="tokens")
        x = layers.LSTM(4, name="lstm")(layers.Embedding(50, 8, name="embed")(tokens))
        return keras.Model(tokens, layers.Dense(2, name="head")(x))

    open_facts, fixed = _inspect(lstm(None), tmp_path, "lstm_open"), _inspect(lstm(128), tmp_path, "lstm")
    assert open_facts["info"]["flops_at"] == [{"key": "tokens:1", "input": "tokens", "position": 1, "size": 128}]
    assert open_facts["flops"] == fixed["flops"] == 2 * (128 * (8 * 16 + 4 * 16) + 4 * 2)


def test_tf_keras_open_sizes_counted_at_the_stated_size(tmp_path: Path) -> None:
    import tf_keras

    def cnn(size: int | None) -> tf_keras.Model:
        return tf_keras.Sequential([tf_keras.Input((size, size, 1), name="pixels"), tf_keras.layers.Conv2D(4, 3),
                                    tf_keras.layers.GlobalAveragePooling2D(), tf_keras.layers.Dense(3)])

    facts = {}
    for size in (None, 224):
        path = tmp_path / f"legacy_{size}.h5"
        cnn(size).save(path)
        facts[size] = inspect_model(prepare_upload(path, tmp_path / f"work_{size}"))
    assert facts[None]["info"]["file_kind"] == "h5-keras2"
    assert facts[None]["flops"] == facts[224]["flops"] == 2 * (222 * 222 * 4 * 9 + 4 * 3)
    assert [d["size"] for d in facts[None]["info"]["flops_at"]] == [224, 224]

