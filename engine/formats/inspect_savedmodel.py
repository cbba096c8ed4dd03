"""What a SavedModel takes, gives, weighs and costs.

The signature comes from ``saved_model.pb`` and the parameter count from the checkpoint index, without
running anything. MACs need shapes, so the serving function is loaded (after the op scan) and frozen
into one flat graph whose Conv/MatMul nodes are counted.
"""
from __future__ import annotations

from collections import Counter

from math import prod
from pathlib import Path
from typing import Any

from engine.formats.inspect_onnx import layout_guess
from engine.formats.savedmodel_scan import scan_saved_model

SERVING = "serving_default"


def _signature_io(signature: Any, which: str) -> list[dict[str, Any]]:
    import tensorflow as tf

    items = getattr(signature, which)
    out = []
    for key in sorted(items):
        info = items[key]
        dims = None if info.tensor_shape.unknown_rank else [
            int(d.size) if d.size >= 0 else None for d in info.tensor_shape.dim]
        out.append({"name": key, "shape": dims, "dtype": tf.dtypes.as_dtype(info.dtype).as_numpy_dtype.__name__})
    return out


def _params(folder: Path) -> int:
    import tensorflow as tf

    prefix = folder / "variables" / "variables"
    if not (folder / "variables" / "variables.index").is_file():
        return 0
    total = 0
    for name, shape in tf.train.list_variables(str(prefix)):
        # object-graph checkpoints name model variables '.../.ATTRIBUTES/VARIABLE_VALUE'; optimizer
        # slots and the save counter are not parameters
        if name.endswith(".ATTRIBUTES/VARIABLE_VALUE") and "optimizer" not in name and "save_counter" not in name:
            total += int(prod(shape)) if shape else 1
    return total


def _graph_macs(folder: Path) -> tuple[int | None, dict[str, int], int | None]:
    """(MACs for one sample, op histogram, parameters it captures) of the frozen serving function.

    Parameters are counted from the variables the serving function captures: Keras exports may keep
    a second copy of every variable in the checkpoint, so the checkpoint alone would count twice.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    loaded = tf.saved_model.load(str(folder))
    if SERVING not in loaded.signatures:
        return None, {}, None
    serving = loaded.signatures[SERVING]
    unique = {id(v): v for v in serving.variables}
    params = sum(int(prod(v.shape)) for v in unique.values()) if unique else None
    graph = convert_variables_to_constants_v2(serving).graph
    operations = graph.get_operations()
    histogram = Counter(op.type for op in operations)
    total = sum(_op_macs(op) for op in operations)
    for name in ("Placeholder", "Const", "Identity", "NoOp"):
        histogram.pop(name, None)
    return total, histogram, params


def _dims(tensor: Any) -> list[int]:
    shape = tensor.shape
    if shape.rank is None:
        return []
    return [int(d) if d is not None else 1 for d in shape.as_list()]  # unknown batch: one sample


def _op_macs(op: Any) -> int:
    kind = op.type
    if kind in ("Conv2D", "Conv3D", "Conv1D"):
        return prod(_dims(op.outputs[0])) * prod(_dims(op.inputs[1])[:-1])
    if kind == "DepthwiseConv2dNative":
        return prod(_dims(op.outputs[0])) * prod(_dims(op.inputs[1])[:2])
    if kind in ("MatMul", "BatchMatMulV2", "BatchMatMulV3", "BatchMatMul"):
        a = _dims(op.inputs[0])
        transpose = op.get_attr("transpose_a") if kind == "MatMul" else op.get_attr("adj_x")
        inner = a[-2] if transpose else a[-1]
        return prod(_dims(op.outputs[0])) * inner if a else 0
    if kind == "Conv2DBackpropInput":
        w = _dims(op.inputs[1])  # (kh, kw, out_channels, in_channels)
        return prod(_dims(op.inputs[2])) * prod(w[:3]) if w else 0
    return 0


def inspect_savedmodel(folder: Path) -> dict[str, Any]:
    """The ``inspect_model`` dict for a SavedModel folder (scanned again: the folder may be reused)."""
    facts = scan_saved_model(folder)
    proto = facts["proto"]
    meta = proto.meta_graphs[0]
    signature = meta.signature_def.get(SERVING)
    macs, histogram, captured = _graph_macs(folder)
    versions = {"tensorflow": meta.meta_info_def.tensorflow_version or None}
    inputs = _signature_io(signature, "inputs") if signature else []
    return {
        "inputs": inputs,
        "outputs": _signature_io(signature, "outputs") if signature else [],
        "params": captured if captured is not None else _params(folder),
        "flops": 2 * macs if macs is not None else None,
        "info": {
            "op_histogram": dict(histogram),
            "producer": f"tensorflow {versions['tensorflow']}" if versions["tensorflow"] else "tensorflow",
            "framework_versions": versions,
            "signatures": facts["signatures"],
            "layout": {i["name"]: layout_guess(i["shape"] or []) for i in inputs},
            "n_nodes": sum(histogram.values()),
            "n_functions": facts["n_functions"],
        },
    }
