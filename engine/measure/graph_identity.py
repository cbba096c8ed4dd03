"""Whether two models are the same computation: the same file, or ONNX graphs with the same operators,
wiring and weights under different tensor names (a converter or optimizer that renames but changes
nothing). Two such models differ in speed only by noise, so no explanation may claim otherwise."""
from __future__ import annotations

import hashlib
from pathlib import Path

from storage.store_base import sha256_of


def graph_digest(onnx_file: Path) -> str:
    """A digest of an ONNX graph that ignores tensor and node names: every tensor is named by where it comes
    from (a graph input's position, a weight's bytes, a node output's position), every node by its op,
    domain, attributes and those input names."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_file))
    graph = model.graph
    names: dict[str, str] = {"": ""}
    for t in graph.initializer:
        raw = numpy_helper.to_array(t)
        names[t.name] = "w:" + hashlib.sha256(raw.tobytes() + str((raw.dtype, raw.shape)).encode()).hexdigest()[:20]
    for i, v in enumerate(x for x in graph.input if x.name not in names):
        names[v.name] = f"in{i}"
    h = hashlib.sha256()
    for n, node in enumerate(graph.node):
        attrs = sorted((a.name, onnx.helper.get_attribute_value(a)) for a in node.attribute)
        ins = [names.get(i, f"?{i}") for i in node.input]
        h.update(repr((node.domain, node.op_type, ins, [repr(a) for a in attrs])).encode())
        for k, out in enumerate(node.output):
            names[out] = f"n{n}:{k}"
    h.update(repr([names.get(o.name) for o in graph.output]).encode())
    return h.hexdigest()


def same_computation(a: Path, a_format: str, b: Path, b_format: str) -> bool:
    """True when ``a`` and ``b`` are byte-identical, or ONNX graphs identical but for names."""
    if sha256_of(Path(a)) == sha256_of(Path(b)):
        return True
    if a_format != "onnx" or b_format != "onnx":
        return False
    from engine.artifact import Artifact

    try:
        return graph_digest(Artifact(Path(a), "onnx").onnx_file) == graph_digest(Artifact(Path(b), "onnx").onnx_file)
    except Exception:  # an unreadable graph is not known to be identical
        return False
