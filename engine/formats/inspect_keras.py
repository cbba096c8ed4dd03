"""What a Keras model takes, gives, weighs and costs, from its layers (Keras 3 or tf-keras).

MACs come from per-layer formulas on the shapes Keras already knows (a symbolic batch counts as one
sample): faster than converting to ONNX just to count, and it works for models tf2onnx cannot convert.
A model saved with open sizes (an image model taking any height and width) has no per-layer shapes to
count from, so it is counted on a copy built at the sizes the benchmark form offers by default (224×224
for an image), and the model's ``info`` says so; a count that still misses layers is recorded as unknown,
never as the smaller sum of the layers it could count.
"""
from __future__ import annotations

from collections import Counter

from math import prod
from typing import Any

import numpy as np

from engine.formats.open_sizes import nominal_sizes, sizes_text


def _shape_of(tensor: Any) -> list[int | None] | None:
    try:
        return [int(d) if d is not None else None for d in tensor.shape]
    except (AttributeError, TypeError, ValueError):
        return None


def _io_shapes(layer: Any, attr: str) -> list[list[int | None]]:
    try:
        value = getattr(layer, attr)
    except (AttributeError, ValueError, RuntimeError):
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return [s for s in (_shape_of(v) for v in values) if s is not None]


def _elements(shape: list[int | None] | None) -> int | None:
    """Elements per sample (the batch dimension dropped); None when another dimension is unknown."""
    if not shape:
        return None
    rest = shape[1:]
    return None if any(d is None for d in rest) else int(prod(rest))


def _kernel(layer: Any, attr: str = "kernel") -> tuple[int, ...] | None:
    w = getattr(layer, attr, None)
    return tuple(int(d) for d in w.shape) if w is not None else None


def _einsum_macs(layer: Any, out: int) -> int | None:
    equation = getattr(layer, "equation", "")
    kernel = _kernel(layer)
    if "->" not in equation or "," not in equation or kernel is None:
        return None
    lhs, result = equation.split("->")
    kernel_spec = lhs.split(",")[1]
    contracted = [kernel[i] for i, c in enumerate(kernel_spec) if c not in result and i < len(kernel)]
    return out * int(prod(contracted))


def _attention_macs(layer: Any, ins: list[list[int | None]], outs: list[list[int | None]]) -> int | None:
    q_kernel = _kernel(getattr(layer, "_query_dense", None) or layer, "kernel")
    if len(ins) < 2 or not outs or q_kernel is None:
        return None
    tq, tv = ins[0][1], ins[1][1]
    if tq is None or tv is None:
        return None
    heads, key_dim = int(layer.num_heads), int(layer.key_dim)
    value_dim = int(getattr(layer, "value_dim", None) or key_dim)
    dq, dv = ins[0][-1], ins[1][-1]
    dk = ins[2][-1] if len(ins) > 2 else dv
    d_out = outs[0][-1]
    projections = tq * dq * heads * key_dim + tv * dk * heads * key_dim + tv * dv * heads * value_dim
    scores = heads * tq * tv * (key_dim + value_dim)
    return projections + scores + tq * heads * value_dim * d_out


def _rnn_macs(layer: Any, ins: list[list[int | None]]) -> int | None:
    cell = getattr(layer, "cell", layer)
    kernel, recurrent = _kernel(cell), _kernel(cell, "recurrent_kernel")
    if not ins or kernel is None or recurrent is None or ins[0][1] is None:
        return None
    return int(ins[0][1]) * (prod(kernel) + prod(recurrent))


# tfmot wraps the layers of a QAT model; shapes are the wrapper's, the kernel and kind the wrapped layer's
_WRAPPERS = ("QuantizeWrapper", "QuantizeWrapperV2", "PruneLowMagnitude", "ClusterWeights")


def _core(layer: Any) -> Any:
    return getattr(layer, "layer", layer) if type(layer).__name__ in _WRAPPERS else layer


def layer_macs(layer: Any) -> int | None:
    """MACs of one layer for one sample; 0 for layers without multiply-accumulates, None if unknown."""
    ins, outs = _io_shapes(layer, "input"), _io_shapes(layer, "output")
    layer = _core(layer)
    name = type(layer).__name__
    out = _elements(outs[0]) if outs else None
    if name in ("Dense", "Conv1D", "Conv2D", "Conv3D"):
        kernel = _kernel(layer)
        return out * prod(kernel[:-1]) if out is not None and kernel else None
    if name in ("DepthwiseConv1D", "DepthwiseConv2D"):
        kernel = _kernel(layer)
        return out * prod(kernel[:-2]) if out is not None and kernel else None
    if name in ("SeparableConv1D", "SeparableConv2D"):
        dw, pw = _kernel(layer, "depthwise_kernel"), _kernel(layer, "pointwise_kernel")
        inner = _elements(ins[0]) if ins else None
        if out is None or inner is None or dw is None or pw is None:
            return None
        spatial = out // pw[-1]
        return spatial * prod(dw) + out * pw[-2]
    if name in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
        kernel = _kernel(layer)
        inner = _elements(ins[0]) if ins else None
        return inner * prod(kernel[:-2]) * kernel[-2] if inner is not None and kernel else None
    if name == "EinsumDense":
        return _einsum_macs(layer, out) if out is not None else None
    if name == "MultiHeadAttention":
        return _attention_macs(layer, ins, outs)
    if name in ("LSTM", "GRU", "SimpleRNN"):
        return _rnn_macs(layer, ins)
    return 0


def _nested(layer: Any) -> bool:
    return hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Sequential", "Model")


def _walk(model: Any) -> list[Any]:
    layers = []
    for layer in model.layers:
        layers.extend(_walk(layer) if _nested(layer) else [layer])
    return layers


def _open(shape: list[int | None] | None) -> bool:
    return shape is None or any(d is None for d in shape[1:])


def _input_shapes(model: Any) -> list[list[int | None] | None]:
    return [_shape_of(t) for t in model.inputs]


def _called_with(layer: Any) -> list[list[int | None] | None]:
    """The shapes a nested model receives in the model around it (its own inputs may leave sizes open)."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    tensors = getattr(nodes[0], "input_tensors", None) if nodes else None
    values = tensors if isinstance(tensors, (list, tuple)) else [tensors] if tensors is not None else []
    return [_shape_of(t) for t in values]


def _at_shapes(model: Any, framework: str, shapes: list[list[int]]) -> Any:
    """A fresh copy of ``model`` whose inputs have ``shapes`` (batch left open); its weights are not copied,
    only their shapes matter for counting."""
    module = __import__(framework)
    tensors = [module.Input(shape=tuple(s[1:]), dtype=getattr(t.dtype, "name", t.dtype))
               for s, t in zip(shapes, model.inputs)]
    return module.models.clone_model(model, input_tensors=tensors if len(tensors) > 1 else tensors[0])


def _count(model: Any, framework: str) -> tuple[int, list[str]]:
    """(MACs per sample, names of layers whose MACs are unknown); a nested model that leaves sizes open is
    counted at the sizes the model around it gives it."""
    total, unknown = 0, []
    for layer in model.layers:
        if _nested(layer):
            inner, given = layer, _called_with(layer)
            if any(_open(s) for s in _input_shapes(layer)) and given and not any(_open(s) for s in given):
                try:
                    inner = _at_shapes(layer, framework, given)
                except Exception:  # not rebuildable at those sizes: its layers stay unknown, the count None
                    inner = layer
            macs, missed = _count(inner, framework)
            total, unknown = total + macs, unknown + missed
            continue
        macs = layer_macs(layer)
        if macs is None:
            unknown.append(layer.name)
        else:
            total += int(macs)
    return total, unknown


def flops_of(model: Any, inputs: list[dict[str, Any]], framework: str) -> dict[str, Any]:
    """``{flops, flops_at, flops_unknown_layers, flops_note}``: FLOPs per sample, counted at the sizes in
    ``flops_at`` when the inputs leave sizes open; None with a note when some layer cannot be counted."""
    at = nominal_sizes(inputs)
    counted, note = model, None
    if at:
        shapes = []
        for spec in inputs:
            shape = list(spec["shape"] or [])
            for d in at:
                if d["input"] == spec["name"]:
                    shape[d["position"]] = d["size"]
            shapes.append(shape)
        try:
            counted = _at_shapes(model, framework, shapes)
        except Exception as exc:  # a layer that cannot be rebuilt at other sizes: say so instead of guessing
            from engine.errors import first_line

            return {"flops": None, "flops_at": at, "flops_unknown_layers": [],
                    "flops_note": f"not counted: the model could not be built at {sizes_text(at)} ({first_line(exc)})"}
    total, unknown = _count(counted, framework)
    if unknown:
        where = f" at {sizes_text(at)}" if at else ""
        note = (f"not counted: {len(unknown)} layer(s) have sizes unknown{where} "
                f"({', '.join(unknown[:5])}{'…' if len(unknown) > 5 else ''})")
    return {"flops": None if unknown else 2 * total, "flops_at": at, "flops_unknown_layers": unknown,
            "flops_note": note}


def _spec(name: str, tensor: Any) -> dict[str, Any]:
    dtype = getattr(tensor.dtype, "name", tensor.dtype)
    return {"name": name, "shape": _shape_of(tensor), "dtype": np.dtype(str(dtype)).name}


def _producer(tensor: Any) -> str | None:
    history = getattr(tensor, "_keras_history", None)
    return getattr(history[0], "name", None) if history else None


def inspect_keras_model(model: Any, keras_version: str | None, framework: str) -> dict[str, Any]:
    """The ``inspect_model`` dict for a loaded Keras model (``framework``: 'keras' or 'tf_keras')."""
    layers = _walk(model)
    histogram = Counter(type(_core(layer)).__name__ for layer in layers)
    inputs = [_spec(t.name.split(":")[0], t) for t in model.inputs]
    counted = flops_of(model, inputs, framework)
    outputs = [_spec(f"output_{i}", t) for i, t in enumerate(model.outputs)]
    channels_first = any(getattr(layer, "data_format", None) == "channels_first" for layer in layers)
    module = __import__(framework)
    return {
        "inputs": inputs,
        "outputs": outputs,
        "params": int(model.count_params()),
        "flops": counted["flops"],
        "info": {
            "op_histogram": dict(histogram),
            "producer": f"{framework} {keras_version}" if keras_version else framework,
            "keras_version": keras_version,
            "framework_versions": {framework: getattr(module, "__version__", None)},
            "layout": {i["name"]: ("NCHW" if channels_first else "NHWC") if len(i["shape"] or []) == 4 else None
                       for i in inputs},
            "output_layers": [_producer(t) for t in model.outputs],
            "flops_unknown_layers": counted["flops_unknown_layers"],
            **({"flops_at": counted["flops_at"]} if counted["flops_at"] else {}),
            **({"flops_note": counted["flops_note"]} if counted["flops_note"] else {}),
            "n_layers": len(layers),
        },
    }
