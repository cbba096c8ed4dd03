"""The accuracy fallback names real nodes of the float graph, ranked by the error INT8 adds there, and the
quantizer keeps a named node in float."""
from __future__ import annotations

import numpy as np
import onnx

from engine.artifact import Artifact
from engine.auto.accuracy import costly_nodes
from engine.auto.space import static_config
from engine.formats.datasets import DatasetArrays
from engine.passes import PASSES
from engine.passes.base import PassContext


def _run(name, source, folder, data=None, **config):
    folder.mkdir(parents=True)
    spec = PASSES[name]
    return spec.run(source, spec.config(**config), PassContext(scratch=folder, dataset=data)).artifact


def test_costly_nodes_are_float_graph_nodes_and_exclusion_keeps_them_float(digits_onnx, digits_files, tmp_path):
    arrays = np.load(digits_files[1])
    data = DatasetArrays(arrays["x"], arrays["y"])
    basic = _run("onnx-optimize", Artifact(digits_onnx, "onnx"), tmp_path / "basic", level="basic")
    qdq = _run("ort-quantize-static", basic, tmp_path / "qdq", data, **static_config("qdq", "uint8", "int8"))
    ranked = costly_nodes(basic.onnx_file, qdq.onnx_file, data, tmp_path)
    names = {n.name: n.op_type for n in onnx.load(str(basic.onnx_file)).graph.node}
    assert ranked and all(names[r["node"]] == r["op"] and r["error"] >= 0 for r in ranked)
    assert [r["added"] for r in ranked] == sorted((r["added"] for r in ranked), reverse=True)

    first = ranked[0]["node"]
    kept = _run("ort-quantize-static", basic, tmp_path / "kept", data,
                **static_config("qdq", "uint8", "int8", exclude_nodes=[first]))
    graph = onnx.load(str(kept.onnx_file)).graph
    producer = {o: n.op_type for n in graph.node for o in n.output}
    node = next(n for n in graph.node if n.name == first)
    assert producer.get(node.input[1]) != "DequantizeLinear"  # its weights stay float
    assert any(producer.get(n.input[1]) == "DequantizeLinear" for n in graph.node if n.name != first
               and n.op_type == ranked[0]["op"] and len(n.input) > 1) or len(ranked) == 1
