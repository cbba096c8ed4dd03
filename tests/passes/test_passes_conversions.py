"""Conversions reproduce their parent (run through run_pass, which gates them): tf2onnx, tflite,
onnx-optimize, fp16."""
from __future__ import annotations

import pytest

from engine.artifact import Artifact
from engine.errors import FidelityError
from engine.passes.gate import run_pass
from engine.passes import PASSES
from tests.passes.conftest import make_ctx, op_types


def _run(name, source, tmp_path, dataset=None, **config):
    spec = PASSES[name]
    return run_pass(spec, source, spec.config(**config), make_ctx(tmp_path, dataset))


def test_tf2onnx_digits_matches_keras_with_dynamic_batch(digits, tmp_path):
    artifact, data = digits
    result = _run("tf2onnx", artifact, tmp_path, data)
    assert result.artifact.format == "onnx" and result.artifact.path.parent == tmp_path / "scratch"
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-4
    assert result.metrics["fidelity"]["top1_agreement"] == 1.0
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.artifact.path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "image" and not isinstance(session.get_inputs()[0].shape[0], int)
    assert session.get_outputs()[0].name == "probs"


def test_tf2onnx_freezes_captured_tensors_of_efficientnet_normalization(tmp_path):
    """Keras 3 Normalization keeps its mean as a captured eager tensor; it must become a constant."""
    import keras

    path = tmp_path / "effnet.keras"
    keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3)).save(path)
    result = _run("tf2onnx", Artifact(path, "keras"), tmp_path / "out")
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.artifact.path), providers=["CPUExecutionProvider"])
    assert len(session.get_inputs()) == 1 and session.get_inputs()[0].shape[0] == "batch"
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-4


def test_tf2onnx_fixed_batch_and_opset13(digits, tmp_path):
    result = _run("tf2onnx", digits[0], tmp_path, opset=13, dynamic_batch=False)
    import onnx

    model = onnx.load(str(result.artifact.path))
    assert model.opset_import[0].version == 13
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1


def test_tf2onnx_transformer_with_int32_tokens(transformer, tmp_path):
    result = _run("tf2onnx", transformer, tmp_path)
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-4
    import onnxruntime as ort

    assert ort.InferenceSession(str(result.artifact.path)).get_inputs()[0].type == "tensor(int32)"


def test_tf2onnx_multi_input_model(tmp_path):
    import keras

    image = keras.Input((4, 4, 1), name="image")
    meta = keras.Input((3,), name="meta")
    x = keras.layers.Concatenate()([keras.layers.Flatten()(image), meta])
    out = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    path = tmp_path / "two.keras"
    keras.Model([image, meta], out).save(path)
    result = _run("tf2onnx", Artifact(path, "keras"), tmp_path)
    import onnxruntime as ort

    assert [i.name for i in ort.InferenceSession(str(result.artifact.path)).get_inputs()] == ["image", "meta"]
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-5


def test_tf2onnx_savedmodel(digits, tmp_path):
    from engine.formats.keras_safe import load_keras

    folder = tmp_path / "saved"
    load_keras(digits[0].path).export(str(folder), verbose=False)
    result = _run("tf2onnx", Artifact(folder, "savedmodel"), tmp_path, digits[1])
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize(("quantization", "dtype"), [("none", None), ("float16", "float16"),
                                                     ("dynamic", "int8"), ("int8", "int8")])
def test_tflite_quantizations_hold_expected_tensor_types(digits, tmp_path, quantization, dtype):
    artifact, data = digits
    result = _run("tflite", artifact, tmp_path, data, quantization=quantization, samples=32)
    assert result.artifact.format == "tflite"
    fidelity = result.metrics["fidelity"]
    if dtype:
        assert result.metrics["tensor_types"].get(dtype, 0) > 0
    if quantization == "int8":  # weights and activations: most tensors are int8
        types = result.metrics["tensor_types"]
        assert types["int8"] > types.get("float32", 0)
    assert fidelity["gated"] == (quantization in ("none", "float16"))
    assert fidelity["top1_agreement"] >= 0.95


def test_onnx_optimize_levels_keep_outputs(digits_onnx_artifact, tmp_path):
    for level in ("basic", "extended", "all"):
        result = _run("onnx-optimize", digits_onnx_artifact, tmp_path / level, level=level,
                      passes=["eliminate_identity", "fuse_bn_into_conv"])
        assert result.metrics["nodes_after"] <= result.metrics["nodes_before"]
        assert result.metrics["fidelity"]["max_abs_diff"] < 1e-5


def test_onnx_optimize_upgrades_opset9_zoo_model(light_model_dir, tmp_path):
    source = Artifact(light_model_dir / "light_squeezenet.onnx", "onnx")
    result = _run("onnx-optimize", source, tmp_path)
    assert result.metrics["opset_before"] == 9 and result.metrics["opset_after"] == 17
    assert "ConstantOfShape" not in op_types(result.artifact.path)  # folded into initializers
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-4


def test_fp16_halves_initializers_within_tolerance(digits_onnx_artifact, tmp_path):
    result = _run("fp16", digits_onnx_artifact, tmp_path)
    import onnx

    model = onnx.load(str(result.artifact.path))
    assert result.metrics["float16_initializers"] > 0
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # keep_io_types
    assert 0 < result.metrics["fidelity"]["max_abs_diff"] < 1e-2


def test_conversion_beyond_tolerance_fails_with_numbers(digits_onnx_artifact, tmp_path):
    spec = PASSES["fp16"]
    with pytest.raises(FidelityError, match=r"the fp16 output differs from its parent by up to [0-9.e-]+"):
        run_pass(spec, digits_onnx_artifact, spec.config(), make_ctx(tmp_path), tolerance=1e-7)


def test_tf2onnx_and_tflite_accept_tf_keras_h5(digits, tmp_path):
    from engine.bridge import keras3_to_tf_keras

    path = tmp_path / "digits_tfkeras.h5"
    keras3_to_tf_keras(digits[0].path).save(str(path), save_format="h5")
    source = Artifact(path, "keras")
    assert _run("tf2onnx", source, tmp_path / "onnx", digits[1]).metrics["fidelity"]["max_abs_diff"] < 1e-4
    assert _run("tflite", source, tmp_path / "tflite", digits[1]).metrics["fidelity"]["max_abs_diff"] < 1e-4


def test_fp16_converts_a_legacy_zoo_model_that_lists_its_weights_as_inputs(light_model_dir, tmp_path):
    """An IR-3 model lists every weight as a graph input too; converted as it was, the weight was halved and its
    float32 input kept, and onnxruntime refused the model ("Tensor element type mismatch. 10 != 1")."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    source = Artifact(light_model_dir / "light_squeezenet.onnx", "onnx")
    assert onnx.load(str(source.path)).ir_version == 3
    result = _run("fp16", source, tmp_path)
    assert result.metrics["upgraded_from_opset"] == 9
    model = onnx.load(str(result.artifact.path))
    weights = {t.name for t in model.graph.initializer}
    assert [i.name for i in model.graph.input] == ["data_0"] and not weights & {i.name for i in model.graph.input}
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    half = ort.InferenceSession(str(result.artifact.path), providers=["CPUExecutionProvider"]).run(None, {"data_0": x})
    full = ort.InferenceSession(str(source.path), providers=["CPUExecutionProvider"]).run(None, {"data_0": x})
    np.testing.assert_allclose(half[0], full[0], atol=1e-3)
