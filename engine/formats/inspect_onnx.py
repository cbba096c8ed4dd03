"""What an ONNX model takes, gives, weighs and costs, from the graph and ONNX shape inference.

MACs are counted here rather than with ``onnx-tool``: the count needs only the heavy ops (Conv,
ConvTranspose, Gemm, MatMul and their integer forms), reads shapes ONNX itself infers, never loads
external data, and treats a symbolic batch as one sample — a ~100-line job not worth a dependency
whose releases lag new onnx versions. Other open sizes (an image model's height and width) are counted at
the benchmark form's defaults, which ``info.flops_at`` records; a count that still misses compute nodes is
recorded as unknown rather than as the smaller sum of the nodes it could count.
"""
from __future__ import annotations

from collections import Counter

from pathlib import Path
from typing import Any

from engine.formats.open_sizes import nominal_sizes, sizes_text
from engine.formats.onnx_external import load_onnx_proto

Shape = list[int | str | None]


def _dims(type_proto: Any) -> Shape | None:
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]


def _dtype(elem_type: int) -> str:
    import onnx

    try:
        return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name
    except (KeyError, ValueError, TypeError):
        return onnx.TensorProto.DataType.Name(elem_type).lower()


def _count(shape: Shape | None, first_is_batch: bool = True) -> int | None:
    """Elements in ``shape``; a symbolic first dimension counts as one sample, other unknowns give None."""
    if shape is None:
        return None
    total = 1
    for i, d in enumerate(shape):
        if isinstance(d, int) and d > 0:
            total *= d
        elif i == 0 and first_is_batch:
            continue
        else:
            return None
    return total


def _node_macs(node: Any, shapes: dict[str, Shape]) -> int | None:
    def shape(i: int, io: str = "in") -> Shape | None:
        names = node.input if io == "in" else node.output
        return shapes.get(names[i]) if i < len(names) and names[i] else None

    op = node.op_type
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        w = shape(3 if op == "QLinearConv" else 1)
        out, k = _count(shape(0, "out")), _count(w[1:] if w else None, False)
        return out * k if out is not None and k is not None else None
    if op == "ConvTranspose":
        x, w = shape(0), shape(1)
        a, k = _count(x), _count(w[1:] if w else None, False)
        return a * k if a is not None and k is not None else None
    if op in ("Gemm", "QGemm", "MatMul", "MatMulInteger", "QLinearMatMul"):
        a = shape(0)
        out = _count(shape(0, "out"))
        if not a or out is None:
            return None
        trans_a = any(att.name == "transA" and att.i for att in node.attribute)
        inner = a[-2] if (op in ("Gemm", "QGemm") and trans_a and len(a) >= 2) else a[-1]
        return out * inner if isinstance(inner, int) else None
    return 0


def _value_shapes(model: Any) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    graph = model.graph
    for info in list(graph.input) + list(graph.output) + list(graph.value_info):
        dims = _dims(info.type)
        if dims is not None:
            shapes[info.name] = dims
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _params(graph: Any, shapes: dict[str, Shape]) -> int:
    """Elements of every constant tensor: initializers, Constant values and ConstantOfShape outputs
    (the zoo's "light" models build their weights that way), not the shape vectors feeding them."""
    shape_only = {n.input[0] for n in graph.node if n.op_type == "ConstantOfShape" and n.input}
    used_elsewhere = {i for n in graph.node if n.op_type != "ConstantOfShape" for i in n.input}
    total = sum(_count(list(i.dims), False) or 0 for i in graph.initializer
                if i.name not in shape_only or i.name in used_elsewhere)
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    total += _count(list(attr.t.dims), False) or 1
        elif node.op_type == "ConstantOfShape" and node.output:
            total += _count(shapes.get(node.output[0]), False) or 0
    return int(total)


def _infer(model: Any) -> Any:
    """The model with inferred shapes; quantized contrib ops are seen through a float shadow graph."""
    import onnx

    from engine.formats.onnx_shadow import needs_shadow, shadow

    try:
        if not needs_shadow(model):
            return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        inferred = onnx.shape_inference.infer_shapes(shadow(model), strict_mode=False, data_prop=True)
        result = onnx.ModelProto()
        result.CopyFrom(model)
        del result.graph.value_info[:]
        result.graph.value_info.extend(inferred.graph.value_info)
        return result
    except Exception:  # inference is best effort: unknown ops or opsets leave shapes unknown
        return model


def layout_guess(shape: Shape) -> str | None:
    """NHWC/NCHW for a rank-4 image-like input, from where the 1/3/4 channel dimension sits."""
    if len(shape) != 4:
        return None
    first, last = shape[1], shape[3]
    if last in (1, 3, 4) and first not in (1, 3, 4):
        return "NHWC"
    if first in (1, 3, 4) and last not in (1, 3, 4):
        return "NCHW"
    return None


def _at_sizes(proto: Any, at: list[dict[str, Any]]) -> Any:
    """A copy of ``proto`` whose inputs have the open sizes in ``at`` fixed, shapes inferred again."""
    fixed = type(proto)()
    fixed.CopyFrom(proto)
    for value in fixed.graph.input:
        for d in at:
            if d["input"] == value.name:
                dim = value.type.tensor_type.shape.dim[d["position"]]
                dim.Clear()
                dim.dim_value = int(d["size"])
    return _infer(fixed)


def inspect_onnx(path: Path) -> dict[str, Any]:
    """The ``inspect_model`` dict for an ONNX file (external data is never read)."""
    proto = load_onnx_proto(path)
    model = _infer(proto)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    shapes = _value_shapes(model)

    def io(values: Any) -> list[dict[str, Any]]:
        return [{"name": v.name, "shape": _dims(v.type), "dtype": _dtype(v.type.tensor_type.elem_type)}
                for v in values if v.name not in initializers]

    at = nominal_sizes(io(graph.input))
    counted = _value_shapes(_at_sizes(proto, at)) if at else shapes
    histogram = Counter(node.op_type for node in graph.node)
    per_op: dict[str, int] = {}
    total, unknown = 0, 0
    for node in graph.node:
        macs = _node_macs(node, counted)
        if macs is None:
            unknown += 1
        elif macs:
            total += macs
            per_op[node.op_type] = per_op.get(node.op_type, 0) + macs
    params = _params(graph, shapes)
    inputs = io(graph.input)
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    top = sorted(per_op.items(), key=lambda kv: -kv[1])[:20]
    return {
        "inputs": inputs,
        "outputs": io(graph.output),
        "params": int(params),
        "flops": None if unknown else 2 * total,
        "info": {
            "op_histogram": dict(histogram),
            "opset": opsets.get("ai.onnx"),
            "opsets": opsets,
            "producer": " ".join(p for p in (model.producer_name, model.producer_version) if p) or None,
            "framework_versions": {"onnx_ir_version": model.ir_version},
            "layout": {i["name"]: layout_guess(i["shape"] or []) for i in inputs},
            "per_op_flops": {op: 2 * macs for op, macs in top},
            "flops_partial": unknown > 0,
            **({"flops_at": at} if at else {}),
            **({"flops_note": f"not counted: {unknown} compute node(s) have unknown shapes"
                              + (f" even at {sizes_text(at)}" if at else "")} if unknown else {}),
            "n_nodes": len(graph.node),
            "n_initializers": len(graph.initializer),
        },
    }
