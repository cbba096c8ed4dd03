"""The per-operator profile: op types present, quantized vs float time, unfused Q/DQ patterns."""
from __future__ import annotations

import pytest

from engine.measure.inputs import make_feeds
from engine.measure.profile import graph_info, op_class, profile_onnx
from tests.measure.conftest import signature


def test_profile_finds_the_op_types_present(graphs):
    path = graphs["small_conv"]
    prof = profile_onnx(path, make_feeds(signature(path), 1), opt_level="disable", runs=5)
    print("\n", [(r["op_type"], round(r["share"], 3)) for r in prof["op_types"]])
    assert {r["op_type"] for r in prof["op_types"]} == {"Conv", "Relu"}
    assert sum(r["share"] for r in prof["op_types"]) == pytest.approx(1.0)
    assert prof["runs"] == 5 and prof["kernel_ms_per_run"] > 0
    assert prof["float_share"] == pytest.approx(1.0) and prof["quantized_share"] == 0
    assert prof["top_ops"][0]["node"] == "conv"


def test_profile_counts_a_dq_op_q_pattern_left_unfused(graphs):
    path = graphs["exp_qdq"]
    prof = profile_onnx(path, make_feeds(signature(path), 4), runs=5)
    assert prof["unfused_qdq_pairs"] == 1 and prof["unfused_examples"] == ["Exp:exp"]
    assert prof["qdq_share"] > 0 and prof["quantized"]


def test_static_int8_model_spends_its_time_in_quantized_kernels(conv_int8):
    prof = profile_onnx(conv_int8, make_feeds(signature(conv_int8), 1), runs=5)
    kinds = {r["op_type"] for r in prof["op_types"]}
    print("\n", prof["op_types"], prof["quantized_share"], prof["qdq_share"])
    assert "QLinearConv" in kinds
    assert prof["quantized_share"] > 0 and prof["unfused_qdq_pairs"] == 0 and prof["float_compute_ops"] == {}


def test_graph_info_reports_float_compute_ops_left_in_a_quantized_graph(graphs, tmp_path):
    import onnx
    from onnx import helper

    model = onnx.load(str(graphs["exp_qdq"]))
    model.graph.node.append(helper.make_node("MatMul", ["y", "y"], ["z"], name="mm"))
    onnx.save(model, str(tmp_path / "mixed.onnx"))
    info = graph_info(tmp_path / "mixed.onnx")
    assert info["float_compute_ops"] == {"MatMul": 1}


@pytest.mark.parametrize("op, kind", [("QLinearConv", "quantized"), ("MatMulInteger", "quantized"),
                                      ("ConvInteger", "quantized"), ("QGemm", "quantized"),
                                      ("DynamicQuantizeLinear", "qdq"), ("DequantizeLinear", "qdq"),
                                      ("Conv", "float"), ("Relu", "float")])
def test_op_class_sorts_kernels(op, kind):
    assert op_class(op) == kind
