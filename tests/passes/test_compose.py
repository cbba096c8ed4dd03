"""The compose pass: a preprocessing model in front of the digits classifier, gated against the two in sequence."""
from __future__ import annotations

import numpy as np
import pytest

from engine import api
from engine.errors import InputError, JobFailedError
from engine.jobs import service


def _scaler_onnx(path, out_name: str = "image", factor: float = 1 / 16):
    """raw pixels (N, 8, 8, 1) in 0..16 -> the classifier's input scale: one Mul node."""
    import onnx
    from onnx import TensorProto, helper

    raw = helper.make_tensor_value_info("raw", TensorProto.FLOAT, ["N", 8, 8, 1])
    out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", 8, 8, 1])
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [factor])
    graph = helper.make_graph([helper.make_node("Mul", ["raw", "scale"], [out_name])], "scaler", [raw], [out], [scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _import(path, name):
    return service.wait(api.submit_import(path, name=name).id, timeout_s=300).result["model_id"]


def test_compose_chains_a_preprocessor_and_the_classifier_onnx(home, digits_onnx, tmp_path):
    import onnxruntime as ort

    pre = _import(_scaler_onnx(tmp_path / "pre.onnx"), "scaler")
    clf = _import(digits_onnx, "digits")
    job = api.submit_optimize(pre, "compose", {"second": str(clf)}).job
    result = service.wait(job.id, timeout_s=300).result
    composed = api.get_model(result["model_id"])
    assert composed.parent_id == pre and composed.pass_name == "compose"
    assert [i["name"] for i in composed.inputs] == ["raw"]  # the first model's inputs, opsets aligned to 17
    fidelity = composed.metrics["fidelity"]
    assert fidelity["reference"] == "the two models run in sequence" and fidelity["gated"]
    assert fidelity["max_abs_diff"] <= 1e-5 and fidelity["top1_agreement"] == 1.0
    raw = np.random.default_rng(0).integers(0, 17, (5, 8, 8, 1)).astype(np.float32)
    chained = ort.InferenceSession(str(api.model_path(composed.id)), providers=["CPUExecutionProvider"])
    bare = ort.InferenceSession(str(digits_onnx), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(chained.run(None, {"raw": raw})[0], bare.run(None, {"image": raw / 16})[0],
                               rtol=1e-5, atol=1e-6)


def test_compose_wires_by_explicit_map_and_refuses_unknown_names(home, digits_onnx, tmp_path):
    pre = _import(_scaler_onnx(tmp_path / "pre.onnx", out_name="scaled"), "scaler")
    clf = _import(digits_onnx, "digits")
    with pytest.raises(JobFailedError, match=r"io_map names an unknown output 'nope' \(outputs: scaled\)"):
        service.wait(api.submit_optimize(pre, "compose", {"second": clf, "io_map": "nope:image"}).job.id,
                     timeout_s=300)
    done = service.wait(api.submit_optimize(pre, "compose", {"second": clf, "io_map": "scaled:image"}).job.id,
                        timeout_s=300).result
    assert api.get_model(done["model_id"]).metrics["io_map"] == [["scaled", "image"]]
    with pytest.raises(InputError, match="model 999 does not exist"):
        api.submit_optimize(pre, "compose", {"second": 999})
    with pytest.raises(InputError, match="io_map entries are output:input pairs"):
        api.submit_optimize(pre, "compose", {"second": clf, "io_map": "scaled"})


@pytest.mark.slow
def test_compose_keras_chains_two_models_into_one_functional_model(home, tmp_path):
    import keras

    inp = keras.Input((6,), name="features")
    first = keras.Model(inp, keras.layers.Dense(4, activation="relu")(inp))
    head_in = keras.Input((4,))
    second = keras.Model(head_in, keras.layers.Dense(3, activation="softmax")(head_in))
    first.save(tmp_path / "extractor.keras")
    second.save(tmp_path / "head.keras")
    a, b = _import(tmp_path / "extractor.keras", "extractor"), _import(tmp_path / "head.keras", "head")
    result = service.wait(api.submit_optimize(a, "compose-keras", {"second": b}).job.id, timeout_s=300).result
    composed = api.get_model(result["model_id"])
    assert composed.format == "keras" and composed.metrics["fidelity"]["max_abs_diff"] <= 1e-5
    assert composed.outputs[0]["shape"][-1] == 3
