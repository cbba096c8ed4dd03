"""What a pass changed in a graph: op types whose counts moved, and — between two ONNX graphs — the nodes
added, removed, replaced (``Conv → QLinearConv``, matched by name), and compute nodes kept in float.

Graph files are untrusted: ``diff_files`` parses them in a child process with a time limit, never in the
dashboard's own process.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FLOAT_COMPUTE = {"Conv", "ConvTranspose", "MatMul", "Gemm", "LSTM", "GRU", "RNN", "Attention"}
QUANT_HINTS = ("QLinear", "Integer", "Quant", "Dequant", "QGemm", "QAttention", "DynamicQuantize")
SHOWN = 60  # node rows returned per category


def op_diff(parent_hist: dict[str, int], child_hist: dict[str, int]) -> list[dict[str, Any]]:
    """Per op type: parent count, child count and the change, changed types first."""
    rows = [{"op": op, "parent": parent_hist.get(op, 0), "child": child_hist.get(op, 0),
             "change": child_hist.get(op, 0) - parent_hist.get(op, 0)} for op in sorted({*parent_hist, *child_hist})]
    return sorted(rows, key=lambda r: (r["change"] == 0, r["op"]))


def _base(name: str) -> str:
    for suffix in ("_quant", "_QuantizeLinear", "_DequantizeLinear", "_fused", "_output_0", "_int8", "_fp16"):
        name = name.replace(suffix, "")
    return name


def node_diff(parent: list[tuple[str, str]], child: list[tuple[str, str]]) -> dict[str, Any]:
    """``parent``/``child`` are (node name, op type) lists. Nodes with the same name and op are kept; a child
    node whose name (less quantization suffixes) is a vanished parent node's name replaced it; the rest were
    added or removed (fused away, folded)."""
    p_ops, c_ops = dict(parent), dict(child)
    kept = [n for n in c_ops if p_ops.get(n) == c_ops[n]]
    gone = {n: op for n, op in p_ops.items() if c_ops.get(n) != op}
    new = {n: op for n, op in c_ops.items() if p_ops.get(n) != op}
    replaced, by_base = [], {}
    for n in gone:
        by_base.setdefault(_base(n), n)
    for n, op in list(new.items()):
        old = gone.get(n) and n or by_base.get(_base(n))
        if old in gone and op not in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"):
            replaced.append({"node": old, "from": gone.pop(old), "to": op})
            del new[n]
    quantized = any(any(h in op for h in QUANT_HINTS) for op in c_ops.values())
    floats = [n for n, op in c_ops.items() if op in FLOAT_COMPUTE] if quantized else []
    return {"kept": len(kept), "replaced": replaced[:SHOWN], "n_replaced": len(replaced),
            "added": [{"node": n, "op": op} for n, op in new.items()][:SHOWN], "n_added": len(new),
            "removed": [{"node": n, "op": op} for n, op in gone.items()][:SHOWN], "n_removed": len(gone),
            "kept_float": [{"node": n, "op": c_ops[n]} for n in floats][:SHOWN], "n_kept_float": len(floats),
            "replacements": dict(Counter(f"{r['from']} → {r['to']}" for r in replaced))}


def _nodes(path: Path) -> list[tuple[str, str]]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [(n.name or f"{n.op_type}:{','.join(n.output)}", n.op_type) for n in model.graph.node]


def diff_files(parent: Path, child: Path, timeout_s: float = 60) -> dict[str, Any]:
    """``node_diff`` of two ONNX files, parsed in a child process."""
    done = subprocess.run([sys.executable, "-m", "engine.graph_diff", str(parent), str(child)], capture_output=True,
                          text=True, timeout=timeout_s, env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                                                             "ORT_DISABLE_TELEMETRY": "1"})
    if done.returncode != 0:
        raise ValueError("the graphs could not be read for a node diff")
    return json.loads(done.stdout)


if __name__ == "__main__":
    print(json.dumps(node_diff(_nodes(Path(sys.argv[1])), _nodes(Path(sys.argv[2])))))
