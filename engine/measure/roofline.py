"""How close a model runs to the machine's measured float32 GEMM peak (a one-number roofline).

Model FLOPs count 2 per multiply-accumulate. ``onnx_flops`` counts the dense compute ops (Conv,
ConvTranspose, MatMul, Gemm) from inferred shapes, which is where nearly all CNN/MLP FLOPs are; the
stored model's own FLOP count, when the caller has it, is preferred.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from engine.measure.load import NOISY

RATES = ("single_thread", "all_threads")


def achieved(flops_per_sample: float, latency_ms: float, batch: int, threads: int,
             peak: dict[str, Any] | None) -> dict[str, Any]:
    """GFLOP/s achieved at ``latency_ms`` for ``batch`` samples, and its share of the measured peak
    (single-thread peak when ``threads`` is 1, otherwise the better of the two: on some VMs BLAS gains
    nothing from a second thread, and the peak is what the machine can do, not what one library did)."""
    gflops = flops_per_sample * batch / (latency_ms / 1e3) / 1e9
    ref = reference(peak, threads)
    return {"achieved_gflops": gflops, "peak_gflops": ref,
            "percent_of_peak": 100.0 * gflops / ref if ref else None}


def reference(peak: dict[str, Any] | None, threads: int) -> float | None:
    """The peak a cell on ``threads`` threads is judged against (see ``achieved``); None when none was measured."""
    if not peak:
        return None
    rates = [peak.get("single_thread")] + ([] if threads == 1 else [peak.get("all_threads")])
    return max((r for r in rates if r), default=None)


def measured_quietly(peak: dict[str, Any] | None) -> bool:
    """Whether ``peak`` was probed while other processes used at most ``NOISY`` of the CPU. A GEMM probed beside
    other work runs slower than the machine can (one probed at 56% load had a model read 148% of it): such a
    figure is not the machine's peak, and one that does not say its load is not known to be."""
    load = (peak or {}).get("other_load")
    return isinstance(load, (int, float)) and load <= NOISY


def raised_peak(peak: dict[str, Any] | None, cells: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``peak`` with a rate raised to the highest float32 GFLOP/s a cell achieved above it (``cells``: ``batch``,
    ``threads``, ``achieved_gflops``, ``integer_work``), or None when no cell exceeded it. The machine did that
    work, so the stored peak was too low; integer work is left out (its peak is another, higher one)."""
    if not peak:
        return None
    raised = dict(peak)
    for cell in cells:
        gflops = cell.get("achieved_gflops")
        if cell.get("integer_work") or not gflops:
            continue
        ref = reference(raised, cell["threads"])
        if ref is None or gflops <= ref:
            continue
        rate = "single_thread" if cell["threads"] == 1 else "all_threads"
        raised[rate] = math.ceil(gflops * 10) / 10  # peaks are kept to 0.1 GFLOP/s, never below what was done
        raised["raised_by_benchmark"] = True
    return raised if raised.get("raised_by_benchmark") and raised != peak else None


def replaces(new: dict[str, Any] | None, stored: dict[str, Any] | None) -> bool:
    """Whether the measured peak ``new`` should replace the cached ``stored`` one: only a peak measured quietly
    is cached, and it replaces one for other hardware, one measured under load (or not saying its load), or
    one it beats on either rate (a model achieved more than the stored figure)."""
    if not isinstance(new, dict) or not new.get("key") or not measured_quietly(new):
        return False
    if not isinstance(stored, dict) or stored.get("key") != new.get("key") or not measured_quietly(stored):
        return True
    return any((new.get(r) or 0) > (stored.get(r) or 0) for r in RATES)


def onnx_flops(path: Path, batch: int = 1) -> int:
    """FLOPs of one forward pass at ``batch`` from Conv/ConvTranspose/MatMul/Gemm nodes (dynamic dims as 1)."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path), load_external_data=False)
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            if not d.HasField("dim_value"):
                d.dim_value = batch if i == 0 else 1
    model = shape_inference.infer_shapes(model)
    shapes = {init.name: list(init.dims) for init in model.graph.initializer}
    for vi in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        try:
            if node.op_type in ("Conv", "ConvTranspose"):
                w, out = shapes[node.input[1]], shapes[node.output[0]]
                ref = out if node.op_type == "Conv" else shapes[node.input[0]]
                total += 2 * int(np.prod(ref)) * int(np.prod(w[1:]))
            elif node.op_type in ("MatMul", "Gemm"):
                a, out = shapes[node.input[0]], shapes[node.output[0]]
                k = a[-1] if not (node.op_type == "Gemm" and _attr(node, "transA")) else a[0]
                total += 2 * int(np.prod(out)) * int(k)
        except (KeyError, IndexError):
            continue  # a shape inference could not resolve; that node is left out
    return total


def _attr(node, name: str) -> int:
    return next((a.i for a in node.attribute if a.name == name), 0)
