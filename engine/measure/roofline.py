"""How close a model runs to the machine's measured float32 GEMM peak (a one-number roofline).

Model FLOPs count 2 per multiply-accumulate. ``onnx_flops`` counts the dense compute ops (Conv,
ConvTranspose, MatMul, Gemm) from inferred shapes, which is where nearly all CNN/MLP FLOPs are; the
stored model's own FLOP count, when the caller has it, is preferred.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def achieved(flops_per_sample: float, latency_ms: float, batch: int, threads: int,
             peak: dict[str, Any] | None) -> dict[str, Any]:
    """GFLOP/s achieved at ``latency_ms`` for ``batch`` samples, and its share of the measured peak
    (single-thread peak when ``threads`` is 1, otherwise the better of the two: on some VMs BLAS gains
    nothing from a second thread, and the peak is what the machine can do, not what one library did)."""
    gflops = flops_per_sample * batch / (latency_ms / 1e3) / 1e9
    ref = None
    if peak:
        rates = [peak.get("single_thread")] + ([] if threads == 1 else [peak.get("all_threads")])
        ref = max((r for r in rates if r), default=None)
    return {"achieved_gflops": gflops, "peak_gflops": ref,
            "percent_of_peak": 100.0 * gflops / ref if ref else None}


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
