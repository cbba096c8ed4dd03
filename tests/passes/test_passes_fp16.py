"""float16 failures name the node and op, and auto_block keeps exactly the failing nodes in float32."""
from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes import PASSES
from engine.passes.fp16 import node_in_error
from tests.passes.conftest import make_ctx


@pytest.fixture()
def eyelike_model(tmp_path):
    """x + EyeLike(x, dtype=float): the converter retypes EyeLike's output but not its dtype attribute."""
    nodes = [helper.make_node("EyeLike", ["x"], ["eye"], name="identity_matrix", dtype=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "eye"], ["y"], name="add0")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])])
    path = tmp_path / "eyelike.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return Artifact(path, "onnx")


def test_fp16_failure_names_the_node_and_its_op(eyelike_model, tmp_path):
    spec = PASSES["fp16"]
    with pytest.raises(PassError, match=r"at node 'identity_matrix' \(EyeLike\).*node_block_list=identity_matrix"):
        spec.run(eyelike_model, spec.config(), make_ctx(tmp_path))


def test_fp16_auto_block_keeps_the_failing_node_in_float32(eyelike_model, tmp_path):
    import numpy as np
    import onnxruntime as ort

    spec = PASSES["fp16"]
    result = spec.run(eyelike_model, spec.config(auto_block=True), make_ctx(tmp_path))
    assert result.metrics["kept_float32_nodes"] == [{"node": "identity_matrix", "op": "EyeLike"}]
    session = ort.InferenceSession(str(result.artifact.path), providers=["CPUExecutionProvider"])
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], x + np.eye(4, dtype=np.float32))


def test_node_names_are_read_from_onnxruntime_messages():
    assert node_in_error("Type Error: Type (tensor(float16)) of output arg (c) of node (fill0) does not match") == "fill0"
    assert node_in_error("Non-zero status code returned while running Add node. Name:'add_3' Status Message: "
                         "Tensor element type mismatch. 10 != 1") == "add_3"
    assert node_in_error("something else") is None
