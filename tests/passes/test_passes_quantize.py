"""ONNX Runtime quantization: the op types each mode produces, that the result runs, and how close it stays."""
from __future__ import annotations

import numpy as np
import pytest

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays
from engine.passes.gate import run_pass
from engine.passes import PASSES
from tests.passes.conftest import make_ctx, op_types


def _run(name, source, tmp_path, dataset=None, ctx_extra=None, **config):
    spec = PASSES[name]
    return run_pass(spec, source, spec.config(**config), make_ctx(tmp_path, dataset, **(ctx_extra or {})))


@pytest.mark.parametrize("weight_type", ["uint8", "int8"])
def test_dynamic_quantization_runs_on_conv_model(digits_onnx_artifact, digits, tmp_path, weight_type):
    result = _run("ort-quantize-dynamic", digits_onnx_artifact, tmp_path, digits[1], weight_type=weight_type,
                  per_channel=True)
    ops = op_types(result.artifact.path)
    assert "DynamicQuantizeLinear" in ops and "MatMulInteger" in ops and "ConvInteger" in ops
    assert result.metrics["fidelity"]["top1_agreement"] >= 0.95


def test_dynamic_quantization_of_transformer_uses_matmul_integer(transformer, tmp_path):
    onnx_model = _run("tf2onnx", transformer, tmp_path / "onnx").artifact
    result = _run("ort-quantize-dynamic", onnx_model, tmp_path / "q")
    assert "MatMulInteger" in op_types(result.artifact.path)
    assert result.metrics["fidelity"]["max_abs_diff"] < 0.1
    assert result.artifact.path.stat().st_size < onnx_model.path.stat().st_size


def test_static_qoperator_uint8_per_channel_makes_qlinearconv(digits_onnx_artifact, digits, tmp_path):
    result = _run("ort-quantize-static", digits_onnx_artifact, tmp_path, digits[1], samples=64)
    ops = op_types(result.artifact.path)
    assert "QLinearConv" in ops and "QuantizeLinear" in ops
    assert result.metrics["fidelity"]["top1_agreement"] >= 0.95
    assert not (tmp_path / "scratch" / "preprocessed.onnx").exists()


def test_static_qdq_int8_entropy_makes_qdq_pairs(digits_onnx_artifact, digits, tmp_path):
    result = _run("ort-quantize-static", digits_onnx_artifact, tmp_path, digits[1], format="qdq",
                  activation_type="int8", weight_type="int8", calibration="entropy", samples=32,
                  exclude_ops=["Softmax"])
    ops = op_types(result.artifact.path)
    assert ops.count("QuantizeLinear") > 0 and ops.count("DequantizeLinear") > 0 and "QLinearConv" not in ops
    assert result.metrics["fidelity"]["top1_agreement"] >= 0.95


def test_static_quantization_of_opset9_zoo_model_after_optimize(light_model_dir, tmp_path):
    from engine.formats.datasets import DatasetArrays

    source = Artifact(light_model_dir / "light_squeezenet.onnx", "onnx")
    optimized = _run("onnx-optimize", source, tmp_path / "opt").artifact
    data = DatasetArrays(np.random.default_rng(0).random((4, 3, 224, 224), dtype=np.float32))
    result = _run("ort-quantize-static", optimized, tmp_path / "q", data, samples=4)
    assert "QLinearConv" in op_types(result.artifact.path)
    assert result.artifact.path.stat().st_size < optimized.path.stat().st_size / 2


@pytest.mark.parametrize("pass_name", ["ort-quantize-static", "ort-quantize-dynamic"])
def test_quantization_upgrades_an_opset9_zoo_model_by_itself(light_model_dir, tmp_path, pass_name):
    from engine.formats.datasets import DatasetArrays

    source = Artifact(light_model_dir / "light_squeezenet.onnx", "onnx")
    data = DatasetArrays(np.random.default_rng(0).random((4, 3, 224, 224), dtype=np.float32))
    extra = {"samples": 4} if pass_name == "ort-quantize-static" else {}
    result = _run(pass_name, source, tmp_path, data, **extra)
    ops = op_types(result.artifact.path)
    assert ("QLinearConv" if pass_name == "ort-quantize-static" else "ConvInteger") in ops
    assert result.metrics["fidelity"]["max_abs_diff"] < 0.05


@pytest.mark.parametrize(("flags", "expected"), [({"avx2": True, "avx512_vnni": True}, "int8"),
                                                 ({"avx2": True, "avx512_vnni": False}, "uint8")])
def test_static_auto_weight_type_follows_cpu_vnni(flags, expected):
    from engine.passes.ort_quantize_static import Config, resolve_weight_type

    assert resolve_weight_type(Config(), flags) == expected
    assert resolve_weight_type(Config(weight_type="uint8"), flags) == "uint8"
    assert resolve_weight_type(Config(activation_type="int8"), flags) == "int8"


def test_static_quantization_counts_the_ops_it_quantized(digits_onnx_artifact, digits, tmp_path):
    result = _run("ort-quantize-static", digits_onnx_artifact, tmp_path, digits[1], samples=32)
    assert result.metrics["eligible_ops"] > 0
    assert result.metrics["quantized_ops"] == result.metrics["eligible_ops"]
    assert "warnings" not in result.metrics


def test_static_quantization_refuses_a_level_all_graph_with_a_sentence(digits_onnx_artifact, digits, tmp_path):
    from engine.errors import InputError

    fused = _run("onnx-optimize", digits_onnx_artifact, tmp_path / "opt", level="all").artifact
    assert any(op in op_types(fused.path) for op in ("FusedConv", "FusedGemm", "NchwcConv", "Conv"))
    with pytest.raises(InputError, match="onnxruntime-only fused ops .* quantize its float parent"):
        _run("ort-quantize-static", fused, tmp_path / "q", digits[1], samples=16)


def test_quantized_share_sees_ops_left_in_float():
    from onnx import TensorProto, helper

    from engine.passes.ort_quantize_static import quantized_share

    def model(nodes):
        return helper.make_model(helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]))

    before = model([helper.make_node("Conv", ["x", "w1"], ["a"]), helper.make_node("Conv", ["a", "w2"], ["b"]),
                    helper.make_node("MatMul", ["b", "w3"], ["y"])])
    after = model([helper.make_node("QLinearConv", ["x"], ["a"]), helper.make_node("Conv", ["a", "w2"], ["b"]),
                   helper.make_node("DequantizeLinear", ["b"], ["d"]), helper.make_node("MatMul", ["d", "w3"], ["y"])])
    assert quantized_share(before, after, []) == (3, 2)
    assert quantized_share(before, after, ["MatMul"]) == (2, 2)


def test_static_quantization_calibrates_on_fewer_rows_than_one_batch(digits_onnx_artifact, digits, tmp_path):
    few, said = DatasetArrays(digits[1].x[:5]), []  # under the reader's 16-row batch; the model's batch is named
    result = _run("ort-quantize-static", digits_onnx_artifact, tmp_path, few, samples=100,
                  ctx_extra={"progress": lambda f, m: said.append(m)})
    assert "calibrating on 5 samples (minmax)" in said  # the rows it has, not the 100 asked for
    assert "QLinearConv" in op_types(result.artifact.path)
    assert result.metrics["quantized_ops"] == result.metrics["eligible_ops"] > 0


def test_one_graph_quantized_in_several_forms_is_calibrated_once_with_the_same_results(digits_onnx_artifact, digits,
                                                                                        tmp_path):
    import hashlib

    def digest(result):
        return hashlib.sha256(result.artifact.path.read_bytes()).hexdigest()

    cache, said = tmp_path / "ranges", []
    forms = [{"format": "qoperator", "weight_type": "int8"}, {"format": "qdq", "weight_type": "uint8"}]
    kept = [_run("ort-quantize-static", digits_onnx_artifact, tmp_path / f"c{i}", digits[1], samples=64, **form,
                 ctx_extra={"calibration_cache": cache, "progress": lambda f, m: said.append(m)})
            for i, form in enumerate(forms)]
    fresh = [_run("ort-quantize-static", digits_onnx_artifact, tmp_path / f"f{i}", digits[1], samples=64, **form)
             for i, form in enumerate(forms)]
    assert [digest(r) for r in kept] == [digest(r) for r in fresh]  # the same bytes as calibrating each time
    assert len(list(cache.iterdir())) == 1
    assert sum("kept from an earlier form" in m for m in said) == 1
    other_rows = DatasetArrays(digits[1].x[64:])  # other data: its own ranges
    _run("ort-quantize-static", digits_onnx_artifact, tmp_path / "o", other_rows, samples=64,
         ctx_extra={"calibration_cache": cache})
    assert len(list(cache.iterdir())) == 2
