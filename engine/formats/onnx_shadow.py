"""A float "shadow" of a quantized ONNX graph, for shape inference only.

ONNX's shape inference does not know onnxruntime's ``com.microsoft`` quantized ops (QLinearConcat,
QLinearAdd, ...), so every shape after the first of them stays unknown and the FLOPs of the convolutions
behind it go uncounted. The shadow swaps each for the standard op with the same output shape, keeping
every tensor name, so the shapes inferred on it apply to the real graph.
"""
from __future__ import annotations

from typing import Any

# op -> (standard op, positions of the data inputs among the node's inputs; None: every third from 2)
_SHADOWS: dict[str, tuple[str, tuple[int, ...] | None]] = {
    "QLinearConcat": ("Concat", None),
    "QGemm": ("Gemm", (0, 3)),
    "QLinearAdd": ("Add", (0, 3)),
    "QLinearMul": ("Mul", (0, 3)),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", (0,)),
    "QLinearAveragePool": ("AveragePool", (0,)),
    "QLinearLeakyRelu": ("Identity", (0,)),
    "QLinearSigmoid": ("Identity", (0,)),
    "QLinearSoftmax": ("Identity", (0,)),
}
_KEEP_ATTRIBUTES = {"Concat": {"axis"}, "Gemm": {"transA", "transB"}, "AveragePool": {"kernel_shape", "strides", "pads", "auto_pad",
                                                      "ceil_mode", "count_include_pad"}}


def needs_shadow(model: Any) -> bool:
    return any(n.domain == "com.microsoft" and n.op_type in _SHADOWS for n in model.graph.node)


def shadow(model: Any) -> Any:
    """A copy of ``model`` whose known quantized contrib ops are replaced by shape-equivalent standard ops."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.domain != "com.microsoft" or node.op_type not in _SHADOWS:
            continue
        op, positions = _SHADOWS[node.op_type]
        inputs = list(node.input)
        data = inputs[2::3] if positions is None else [inputs[i] for i in positions if i < len(inputs)]
        keep = [a for a in node.attribute if a.name in _KEEP_ATTRIBUTES.get(op, set())]
        replacement = onnx.helper.make_node(op, data, list(node.output), name=node.name)
        replacement.attribute.extend(keep)
        node.CopyFrom(replacement)
    return copy
