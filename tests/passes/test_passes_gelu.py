"""tf2onnx on GELU: Keras's exact GELU (Erfc) converts through 1 − Erf; an op left unconverted is named
with its layer in one sentence."""
from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes import PASSES
from engine.passes.gate import run_pass
from tests.passes.conftest import make_ctx, op_types


def test_exact_gelu_converts_through_erf_and_matches_keras(tmp_path):
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    x = keras.Input((16,), name="x")
    y = layers.Dense(4, name="out")(layers.Dense(32, activation="gelu", name="ffn")(x))
    path = tmp_path / "gelu.keras"
    keras.Model(x, y).save(path)
    spec = PASSES["tf2onnx"]
    result = run_pass(spec, Artifact(path, "keras"), spec.config(), make_ctx(tmp_path))
    ops = op_types(result.artifact.path)
    assert "Erf" in ops and "Erfc" not in ops
    assert result.metrics["fidelity"]["max_abs_diff"] < 1e-4


def test_an_op_tf2onnx_left_unconverted_is_named_with_its_layer():
    from engine.passes.tf2onnx_convert import _refuse_unconverted

    node = helper.make_node("Erfc", ["x"], ["y"], name="functional_1/ffn_1/Gelu/Erfc")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises(PassError, match=r"^tf2onnx does not support the TensorFlow op Erfc \(from layer 'ffn_1'\) at "
                                        "opset 17; try the tflite pass"):
        _refuse_unconverted(helper.make_model(graph), 17)
