"""The finalists are timed together with the parent in one rotating loop, and a tie on speed is called one."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.auto import judge
from engine.auto.params import AutoResult, Candidate
from engine.auto.search import Search
from engine.auto.timing import Timer


def _matmul_chain(path: Path, depth: int) -> Path:
    """A real, deliberately heavy float graph: ``depth`` 512×512 MatMuls in a row."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32) / 23, "w")
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", "w"], [f"h{i + 1}"]) for i in range(depth)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512])],
                              [helper.make_tensor_value_info(f"h{depth}", TensorProto.FLOAT, [1, 512])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_round_robin_calls_a_copy_a_tie_and_a_heavier_graph_slower(digits_onnx: Path, tmp_path: Path):
    copy = shutil.copy(digits_onnx, tmp_path / "copy.onnx")
    light, heavy = _matmul_chain(tmp_path / "light.onnx", 2), _matmul_chain(tmp_path / "heavy.onnx", 24)
    timer = Timer(str(digits_onnx), batch=1, threads=1)
    try:
        out = timer.round_robin([(str(copy), "onnxruntime"), (str(light), "onnxruntime"),
                                 (str(heavy), "onnxruntime")], budget_s=1.5)
    finally:
        timer.close()
    assert out["rounds"] >= 100 and len(out["candidates"]) == 3
    same = out["candidates"][0]  # a fixed rotation put it at 0.87× (the model after the heavy one paid its misses)
    assert 0.9 < same["ratio"] < 1.1 and same["ratio_ci95"][0] < 1.03 and same["ratio_ci95"][1] > 0.97, same
    r, lo, hi = out["pairs"]["1,2"]  # the 24-MatMul chain over the 2-MatMul one, from the same rounds
    assert judge.slower(Candidate(ratio=r, ratio_ci95=[lo, hi])) and r > 3, (r, lo, hi)
    r_back = out["pairs"]["2,1"][0]
    assert abs(r * r_back - 1) < 1e-6
    assert out["candidates"][2]["p50_ms"] > out["candidates"][1]["p50_ms"]


def _search_with(finalists: list[Candidate], pairs: dict[str, list[float]]) -> SimpleNamespace:
    return SimpleNamespace(finalists=finalists, final_pairs=pairs, result=AutoResult(parent=1))


def _cand(label: str, ratio: float, accuracy: float | None = None, size: int = 1000) -> Candidate:
    return Candidate(label=label, status="accepted", ratio=ratio, ratio_ci95=[ratio - 0.01, ratio + 0.01],
                     accuracy=accuracy, size_bytes=size)


def test_a_tie_on_speed_goes_to_the_more_accurate_finalist_and_says_so():
    fast, close = _cand("QOperator", 0.55, accuracy=0.95), _cand("QDQ", 0.56, accuracy=0.97)
    ns = _search_with([fast, close], {"0,1": [1.01, 0.98, 1.04], "1,0": [0.99, 0.96, 1.02]})
    chosen = Search._break_tie(ns, fast, [fast, close])
    assert chosen is close
    assert "tie on speed" in ns.result.notes[0] and "better accuracy" in ns.result.notes[0]
    assert "QDQ 1.01× its latency (95% CI 0.98–1.04)" in ns.result.notes[0]


def test_a_finalist_slower_beyond_the_noise_is_no_tie():
    fast, slow = _cand("QOperator", 0.50, accuracy=0.95), _cand("QDQ", 0.60, accuracy=0.97)
    ns = _search_with([fast, slow], {"0,1": [1.2, 1.15, 1.25], "1,0": [0.83, 0.8, 0.87]})
    assert Search._break_tie(ns, fast, [fast, slow]) is fast
    assert ns.result.notes == []


def test_equal_accuracy_ties_go_to_the_smaller_artifact():
    fast, small = _cand("QDQ", 0.55, accuracy=0.9, size=4000), _cand("TFLite INT8", 0.555, accuracy=0.9, size=3000)
    ns = _search_with([fast, small], {"0,1": [1.01, 0.99, 1.03], "1,0": [0.99, 0.97, 1.01]})
    assert Search._break_tie(ns, fast, [fast, small]) is small
    assert "(smaller)" in ns.result.notes[0]
