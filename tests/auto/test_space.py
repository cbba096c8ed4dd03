"""The search space is ordered by the hardware fingerprint and the op mix, and pruned by the goal."""
from __future__ import annotations

from engine.auto.params import Candidate
from engine.auto.space import one_compute_chain, outrun, plan

VNNI = {"avx2": True, "avx512_vnni": True}
AVX2 = {"avx2": True, "avx512_vnni": False}
CONV = {"conv": 20, "matmul": 1}
MATMUL = {"conv": 0, "matmul": 12}


def _labels(plans):
    return [p.label for p in plans]


def test_vnni_cpus_try_unsigned_by_signed_int8_first():
    first = next(p for p in plan("onnx", VNNI, CONV, True, "latency", None) if p.family == "int8-static")
    assert first.label == "static INT8 QOperator u8/s8 per-channel"
    assert first.steps[-1][1]["weight_type"] == "int8" and first.steps[-1][1]["activation_type"] == "uint8"


def test_avx2_cpus_try_uint8_qoperator_first():
    first = next(p for p in plan("onnx", AVX2, CONV, True, "latency", None) if p.family == "int8-static")
    assert first.label == "static INT8 QOperator u8/u8 per-channel"


def test_dynamic_int8_goes_early_for_matmul_models_and_is_ruled_out_for_conv_latency():
    conv = {p.label: p for p in plan("onnx", VNNI, CONV, True, "latency", None)}
    matmul = plan("onnx", VNNI, MATMUL, True, "latency", None)
    assert "2–12× slower than float on conv networks" in conv["dynamic INT8 (weights)"].skip
    assert not conv["static INT8 QOperator u8/s8 per-channel"].skip
    labels = _labels(matmul)
    assert labels.index("dynamic INT8 (weights)") < labels.index("static INT8 QDQ u8/s8 per-channel")
    assert not next(p for p in matmul if p.label == "dynamic INT8 (weights)").skip


def test_known_slow_candidates_are_listed_last_with_a_reason_and_kept_for_size_or_without_data():
    keras = plan("keras", VNNI, CONV, True, "latency", None)
    skipped = [p for p in keras if p.skip]
    statics = {"static INT8 QDQ s8/s8 per-channel", "static INT8 QOperator u8/s8"}  # never fastest on x86
    assert {p.label for p in skipped} == {"float16", "dynamic INT8 (weights)", "TFLite dynamic-range INT8 (XNNPACK)",
                                         "TFLite float16 (XNNPACK)"} | statics
    assert keras[-len(skipped):] == skipped
    assert {p.label for p in plan("keras", VNNI, CONV, True, "size", None) if p.skip} == statics
    assert not any(p.skip for p in plan("keras", VNNI, CONV, False, "latency", None))
    assert next(p for p in plan("onnx", {**VNNI, "avx512_fp16": True}, CONV, True, "latency", None)
                if p.label == "float16").skip  # ORT's x86 kernels cast float16 whatever the ISA
    assert not any(p.skip for p in plan("onnx", {"neon": True}, CONV, True, "latency", None) if p.label == "float16")


def test_keras_models_let_tflite_compete_and_targets_narrow_the_runtimes():
    both = plan("keras", VNNI, CONV, True, "latency", None)
    assert {p.runtime for p in both} == {"onnxruntime", "tflite"}
    assert all(p.steps[0][0] == "tf2onnx" for p in both if p.runtime == "onnxruntime")
    assert {p.runtime for p in plan("keras", VNNI, CONV, True, "latency", "tflite")} == {"tflite"}
    assert {p.runtime for p in plan("onnx", VNNI, CONV, True, "latency", None)} == {"onnxruntime"}


def test_without_data_only_what_needs_none_is_planned():
    plans = plan("keras", VNNI, CONV, False, "latency", None)
    assert plans and not any(p.needs_data for p in plans)
    assert "TFLite full-integer INT8 (XNNPACK)" not in _labels(plans)


def test_size_goals_try_float16_early():
    labels = _labels(plan("onnx", VNNI, CONV, True, "size", None))
    assert labels.index("float16") < labels.index("static INT8 QDQ u8/s8 per-channel")


def _relu_chain(path, channels: int, side: int, n: int = 10):
    import onnx
    from onnx import TensorProto, helper

    shape = [1, channels, side, side]
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, shape)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_calibration_rows_shrink_to_fit_the_job_memory_and_stay_within_bounds(tmp_path):
    from engine.auto.space import MAX_ROWS, MIN_ROWS, calibration_rows

    big = _relu_chain(tmp_path / "big.onnx", 64, 224)  # 9 inner tensors of 12.8 MB: 115 MB a row
    assert calibration_rows(big, 12288) == int(12288 * 2**20 * 0.5 / (9 * 64 * 224 * 224 * 4 * 2.5))
    assert MIN_ROWS < calibration_rows(big, 12288) < MAX_ROWS
    assert calibration_rows(big, 1024) == MIN_ROWS
    assert calibration_rows(_relu_chain(tmp_path / "small.onnx", 1, 8), 12288) == MAX_ROWS
    samples = {p.steps[-1][1].get("samples") for p in plan("onnx", VNNI, CONV, True, "latency", None, rows=20)
               if p.family == "int8-static"}
    assert samples == {20}


def _measured(label: str, quantization: str, status: str, ratio: float) -> Candidate:
    return Candidate(label=label, runtime="tflite", status=status, ratio=ratio, ratio_ci95=[ratio - 0.02, ratio + 0.02],
                     recipe=[{"pass": "tflite", "config": {"quantization": quantization}}])


def test_tflite_float32_is_skipped_for_speed_once_tflite_int8_met_the_budget_and_says_why():
    plans = {p.label: p for p in plan("keras", VNNI, CONV, True, "latency", None)}
    float32 = plans["TFLite float32 (XNNPACK)"]
    int8_ok = _measured("TFLite full-integer INT8 (XNNPACK)", "int8", "accepted", 0.55)
    reason = outrun(float32, [int8_ok], "latency")
    assert reason.startswith("skipped: TFLite full-integer INT8 met the budget at 0.55× the parent's latency "
                             "in screening")
    assert "for --objective size" in reason
    assert outrun(float32, [int8_ok], "size") == ""  # size is another goal: float32 stays
    missed = _measured("TFLite full-integer INT8 (XNNPACK)", "int8", "rejected", 0.55)
    assert outrun(float32, [missed], "latency") == ""  # INT8 missed the budget: float32 may be the answer
    assert outrun(float32, [], "latency") == ""
    assert all(outrun(p, [int8_ok], "latency") == "" for p in plans.values() if p is not float32)


def _convs(path, branches: bool):
    """Three 3×3 convolutions: one after another, or the last two side by side on the first one's output."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w")
    pad = {"pads": [1, 1, 1, 1]}
    second_in = "a" if branches else "b"
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], **pad), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Conv", ["b", "w"], ["c"], **pad), helper.make_node("Conv", [second_in, "w"], ["d"], **pad)]
    if branches:
        nodes.append(helper.make_node("Add", ["c", "d"], ["y"]))
    else:
        nodes[-1] = helper.make_node("Conv", ["c", "w"], ["d"], **pad)
        nodes.append(helper.make_node("Add", ["d", "b"], ["y"]))  # a residual skip is no second branch of work
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_chain_of_convolutions_has_nothing_for_parallel_execution_and_branches_do(tmp_path):
    assert one_compute_chain(_convs(tmp_path / "chain.onnx", branches=False))
    assert not one_compute_chain(_convs(tmp_path / "branches.onnx", branches=True))
