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
