"""Accuracy of candidates, and which nodes cost it when INT8 misses the budget.

The fallback compares float and quantized activations tensor by tensor (the Conv/MatMul/Gemm outputs of
the float graph and of its QDQ-quantized copy, which keeps those tensor names), and charges each node the
error it adds over the error already in its input. The nodes that add the most are kept in float first.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays

_ELIGIBLE = ("Conv", "MatMul", "Gemm")


def measure(artifact: Artifact, data: DatasetArrays, reference: Artifact | None,
            cache: dict[str, list[np.ndarray]] | None = None) -> dict[str, Any]:
    """``accuracy`` (None without labels) and ``agreement`` (top-1 with ``reference``) on ``data``.
    ``cache``: the reference's outputs on ``data`` by path, kept by a caller that measures many candidates
    against one reference on one data set."""
    from engine.measure.evaluate import evaluate, predictions

    expected = None
    if reference is not None and cache is not None:
        key = str(Path(reference.path).resolve())
        if key not in cache:
            cache[key] = predictions(reference, data)
        expected = cache[key]
    out = evaluate(artifact, data, parent=reference, parent_outputs=expected)
    return {"accuracy": (out.get("metrics") or {}).get("accuracy"),
            "agreement": (out.get("fidelity") or {}).get("agreement")}


def _with_outputs(path: Path, names: list[str], dest: Path) -> Path:
    import onnx

    model = onnx.load(str(path))
    have = {o.name for o in model.graph.output}
    for name in names:
        if name not in have:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    onnx.save(model, str(dest))
    return dest


def _run(path: Path, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.astype(np.float32)}
    values = session.run(names, feed)
    return dict(zip(names, values))


def costly_nodes(float_graph: Path, qdq_graph: Path, data: DatasetArrays, work: Path, n: int = 64) -> list[dict]:
    """Eligible nodes of ``float_graph`` ranked by the activation error quantization adds at each one."""
    import onnx

    model = onnx.load(str(float_graph), load_external_data=False)
    eligible = [node for node in model.graph.node if node.op_type in _ELIGIBLE and node.output]
    names = [node.output[0] for node in eligible]
    quantized = {o for node in onnx.load(str(qdq_graph), load_external_data=False).graph.node for o in node.output}
    names = [name for name in names if name in quantized]
    if not names:
        return []
    x = (data.x if not isinstance(data.x, dict) else next(iter(data.x.values())))[:n]
    ref = _run(_with_outputs(float_graph, names, work / "float_probe.onnx"), x, names)
    got = _run(_with_outputs(qdq_graph, names, work / "qdq_probe.onnx"), x, names)
    error = {k: float(np.linalg.norm(got[k] - ref[k]) / (np.linalg.norm(ref[k]) + 1e-12)) for k in names}
    producer = {o: node for node in model.graph.node for o in node.output}

    def inherited(node) -> float:  # noqa: ANN001
        """The largest error among the nearest eligible ancestors: what the node received."""
        seen, stack, worst = set(), list(node.input), 0.0
        while stack:
            tensor = stack.pop()
            if tensor in seen:
                continue
            seen.add(tensor)
            if tensor in error:
                worst = max(worst, error[tensor])
                continue
            up = producer.get(tensor)
            if up is not None:
                stack.extend(up.input)
        return worst

    ranked = [{"node": node.name, "op": node.op_type, "error": error[node.output[0]],
               "added": error[node.output[0]] - inherited(node)}
              for node in eligible if node.output[0] in error]
    return sorted(ranked, key=lambda r: -r["added"])
