"""--objective size ranks by the bytes a bundle ships (compressed), and with labelled data on a Keras parent
it goes on to prune + sparsity-preserving QAT as full-integer TFLite (that chain is tested for real in
tests/passes/test_passes_finetune.py)."""
from __future__ import annotations

import time
from types import SimpleNamespace

from engine.auto.params import AutoParams, AutoResult, Candidate
from engine.auto.search import Search


def _search(objective: str, target: str | None = None, labelled: bool = True, fmt: str = "keras",
            left_s: float = 300) -> SimpleNamespace:
    tried = []
    ns = SimpleNamespace(params=AutoParams(model_id=1, objective=objective, target=target),
                         data=SimpleNamespace(y=[1] if labelled else None), spec={"dataset": {"id": 1}},
                         parent=SimpleNamespace(format=fmt), deadline=time.monotonic() + left_s,
                         result=AutoResult(parent=1), tried=tried, _live=lambda: None)
    ns._try = lambda plan, *a: tried.append(plan)
    return ns


def test_size_runs_prune_then_sparsity_preserving_qat_to_int8_tflite():
    ns = _search("size")
    Search._prune_qat(ns)
    (plan,) = ns.tried
    assert [s[0] for s in plan.steps] == ["prune", "qat", "tflite"] and plan.runtime == "tflite"
    assert plan.steps[1][1]["preserve_sparsity"] is True and plan.steps[2][1]["quantization"] == "int8"


def test_prune_qat_says_why_it_was_not_tried():
    onnx_only = _search("size", target="onnxruntime")
    Search._prune_qat(onnx_only)
    assert not onnx_only.tried and "only as TFLite" in onnx_only.result.notes[0]
    late = _search("size", left_s=20)
    Search._prune_qat(late)
    assert not late.tried and "time budget" in late.result.notes[0]
    for quiet in (_search("size", labelled=False), _search("size", fmt="onnx")):
        Search._prune_qat(quiet)
        assert not quiet.tried and not quiet.result.notes


def test_size_ranks_by_compressed_bytes_and_speed_by_latency():
    sparse = Candidate(label="pruned", ratio=0.9, size_bytes=26_000, size_gzip_bytes=15_000)
    dense = Candidate(label="dense", ratio=0.6, size_bytes=25_000, size_gzip_bytes=22_000)
    size = SimpleNamespace(params=AutoParams(model_id=1, objective="size"))
    assert min([sparse, dense], key=lambda c: Search._score(size, c)) is sparse
    speed = SimpleNamespace(params=AutoParams(model_id=1, objective="latency"))
    assert min([sparse, dense], key=lambda c: Search._score(speed, c)) is dense
