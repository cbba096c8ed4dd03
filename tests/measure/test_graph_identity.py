"""Same computation under other names is recognised; a changed weight or op is not."""
from __future__ import annotations

import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np

from engine.measure.graph_identity import graph_digest, same_computation


def _graph(path, prefix: str, scale: float = 2.0, op: str = "Relu"):
    w = numpy_helper.from_array(np.full((4,), scale, np.float32), f"{prefix}w")
    nodes = [helper.make_node("Mul", ["x", f"{prefix}w"], [f"{prefix}m"], name=f"{prefix}mul"),
             helper.make_node(op, [f"{prefix}m"], ["y"], name=f"{prefix}act")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_renamed_graph_is_the_same_computation(tmp_path):
    a, b = _graph(tmp_path / "a.onnx", "p_"), _graph(tmp_path / "b.onnx", "renamed_")
    assert a.read_bytes() != b.read_bytes()
    assert graph_digest(a) == graph_digest(b)
    assert same_computation(a, "onnx", b, "onnx")


def test_other_weights_or_ops_are_not_the_same(tmp_path):
    a = _graph(tmp_path / "a.onnx", "p_")
    assert not same_computation(a, "onnx", _graph(tmp_path / "w.onnx", "p_", scale=3.0), "onnx")
    assert not same_computation(a, "onnx", _graph(tmp_path / "o.onnx", "p_", op="Sigmoid"), "onnx")
