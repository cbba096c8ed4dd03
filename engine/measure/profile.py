"""Where an ONNX model's time goes, per operator, from ONNX Runtime's own profiler.

Beside the top nodes and per-op-type shares it answers the questions a slow quantized model raises:
how much time is spent in quantized kernels, in (de)quantize ops, and in float ops; which compute ops
stayed in float; and how many DequantizeLinear → float op → QuantizeLinear patterns the optimizer left
unfused in the graph ONNX Runtime actually runs (saved through ``optimized_model_filepath``).
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

QDQ_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
FLOAT_COMPUTE = {"Conv", "ConvTranspose", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm",
                 "NchwcConv", "Attention", "MultiHeadAttention", "LSTM", "GRU"}


def op_class(op_type: str) -> str:
    """``quantized`` (integer kernels), ``qdq`` ((de)quantize conversions) or ``float``."""
    if op_type in QDQ_OPS:
        return "qdq"
    if (op_type.startswith("QLinear") or "Integer" in op_type or op_type.startswith("Q")
            and op_type[1:2].isupper() or op_type == "DynamicQuantizeMatMul"):
        return "quantized"
    return "float"


def graph_info(model_path: Path) -> dict[str, Any]:
    """Op counts, unfused DQ → op → Q patterns and float compute ops of an ONNX graph."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    producer = {out: n for n in graph.node for out in n.output}
    consumers: dict[str, list] = defaultdict(list)
    for n in graph.node:
        for name in n.input:
            consumers[name].append(n)
    unfused = []
    for n in graph.node:
        if n.op_type in QDQ_OPS:
            continue
        fed_by_dq = any(producer.get(i) is not None and producer[i].op_type == "DequantizeLinear" for i in n.input)
        feeds_q = any(c.op_type == "QuantizeLinear" for o in n.output for c in consumers.get(o, []))
        if fed_by_dq and feeds_q:
            unfused.append(f"{n.op_type}:{n.name}")
    counts = Counter(n.op_type for n in graph.node)
    quantized = any(op_class(t) != "float" for t in counts)
    float_compute = {t: c for t, c in counts.items() if t in FLOAT_COMPUTE} if quantized else {}
    return {"op_counts": dict(counts), "quantized": quantized, "unfused_qdq_pairs": len(unfused),
            "unfused_examples": unfused[:10], "float_compute_ops": float_compute}


def _node_times(trace: list[dict], skip_runs: int) -> tuple[dict[str, float], dict[str, str], int]:
    runs = sorted(e["ts"] for e in trace if e.get("cat") == "Session" and e.get("name") == "model_run")
    since = runs[skip_runs] if len(runs) > skip_runs else 0
    per_node: dict[str, float] = defaultdict(float)
    op_of: dict[str, str] = {}
    for e in trace:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= since:
            node = e["name"].removesuffix("_kernel_time")
            per_node[node] += e["dur"] / 1e3
            op_of[node] = e.get("args", {}).get("op_name", "?")
    return per_node, op_of, max(len(runs) - skip_runs, 1)


def profile_onnx(model_path: Path, feeds: dict[str, np.ndarray], threads: int = 1, opt_level: str = "all",
                 runs: int = 20, warmup: int = 3, top: int = 10) -> dict[str, Any]:
    """Profile ``runs`` calls (after ``warmup``) and summarise per node, per op type and per op class."""
    import onnxruntime as ort

    from engine.measure.runners import ort_options

    with tempfile.TemporaryDirectory(prefix="trimline-profile-") as tmp:
        options = ort_options(threads, opt_level)
        options.enable_profiling = True
        options.log_severity_level = 3  # saving an NCHWc-optimized graph warns that it is machine-specific
        options.profile_file_prefix = str(Path(tmp) / "ort")
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        for _ in range(warmup + runs):
            session.run(None, feeds)
        trace = json.loads(Path(session.end_profiling()).read_text())
        info = graph_info(Path(tmp) / "optimized.onnx")
        del session
    per_node, op_of, n_runs = _node_times(trace, warmup)
    total = sum(per_node.values()) or 1e-12
    by_type: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    by_class: dict[str, float] = defaultdict(float)
    for node, ms in per_node.items():
        by_type[op_of[node]][0] += ms
        by_type[op_of[node]][1] += 1
        by_class[op_class(op_of[node])] += ms
    ranked = sorted(per_node.items(), key=lambda kv: -kv[1])[:top]
    return {
        "runs": n_runs, "threads": threads, "opt_level": opt_level,
        "kernel_ms_per_run": total / n_runs,
        "top_ops": [{"node": n, "op_type": op_of[n], "ms_per_run": ms / n_runs, "share": ms / total}
                    for n, ms in ranked],
        "op_types": sorted(({"op_type": t, "class": op_class(t), "ms_per_run": v[0] / n_runs, "share": v[0] / total,
                             "nodes": v[1]} for t, v in by_type.items()), key=lambda r: -r["share"]),
        "quantized_share": by_class["quantized"] / total, "qdq_share": by_class["qdq"] / total,
        "float_share": by_class["float"] / total,
        "float_compute_share": sum(ms for n, ms in per_node.items() if op_of[n] in FLOAT_COMPUTE) / total,
        **info,
    }
