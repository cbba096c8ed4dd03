"""Tiny hand-built ONNX graphs for the measurement tests (onnx.helper, no TensorFlow)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def save(nodes, inputs, outputs, inits, path: Path, opset: int = 17) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_graph(path: Path, channels: int = 32, size: int = 80, batch: int | str = "N") -> Path:
    """Conv 3×3 + Relu on NCHW: about 1 ms a call on one core at the defaults — steady enough to time."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.random((channels, channels, 3, 3), dtype=np.float32) - 0.5) * 0.1, "w")
    shape = [batch, channels, size, size]
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["h"], ["y"], name="relu")]
    return save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], [w], path)


def matmul_graph(path: Path, n: int = 64, out: int = 10, batch: int | str = "N",
                 dtype: int = TensorProto.FLOAT) -> Path:
    rng = np.random.default_rng(1)
    np_type = helper.tensor_dtype_to_np_dtype(dtype)
    w = numpy_helper.from_array(rng.standard_normal((n, out)).astype(np_type), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")]
    return save(nodes, [helper.make_tensor_value_info("x", dtype, [batch, n])],
                [helper.make_tensor_value_info("y", dtype, [batch, out])], [w], path)


def exp_qdq_graph(path: Path) -> Path:
    """x → Q → DQ → Exp → Q → DQ → y: Exp has no integer kernel, so the DQ → Exp → Q pattern stays."""
    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "s"),
             numpy_helper.from_array(np.array(128, np.uint8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xf"], name="dq_in"),
             helper.make_node("Exp", ["xf"], ["e"], name="exp"),
             helper.make_node("QuantizeLinear", ["e", "s", "z"], ["eq"], name="q_out"),
             helper.make_node("DequantizeLinear", ["eq", "s", "z"], ["y"], name="dq_out")]
    return save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 256])], inits, path)


@pytest.fixture(scope="session")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("graphs")
    return {
        "conv": conv_graph(folder / "conv.onnx"),
        "small_conv": conv_graph(folder / "small_conv.onnx", channels=8, size=16),
        "conv_fixed": conv_graph(folder / "conv_fixed.onnx", channels=8, size=16, batch=1),
        "matmul": matmul_graph(folder / "matmul.onnx"),
        "matmul_fixed": matmul_graph(folder / "matmul_fixed.onnx", batch=1),
        "matmul_fp16": matmul_graph(folder / "matmul_fp16.onnx", dtype=TensorProto.FLOAT16),
        "exp_qdq": exp_qdq_graph(folder / "exp_qdq.onnx"),
    }


@pytest.fixture(scope="session")
def conv_int8(graphs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small conv graph statically quantized (QOperator, uint8) with ONNX Runtime's own tool."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(2)
            self.items = iter([{"x": rng.random((1, 8, 16, 16), dtype=np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.items, None)

    out = tmp_path_factory.mktemp("int8") / "conv_int8.onnx"
    quantize_static(str(graphs["small_conv"]), str(out), Reader(), quant_format=QuantFormat.QOperator)
    return out


def signature(path: Path) -> list[dict]:
    """The model's inputs as the job layer passes them: ``[{name, shape, dtype}]``."""
    model = onnx.load(str(path))
    out = []
    for vi in model.graph.input:
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in vi.type.tensor_type.shape.dim]
        out.append({"name": vi.name, "shape": dims,
                    "dtype": np.dtype(helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)).name})
    return out
