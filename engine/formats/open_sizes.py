"""The sizes FLOPs are counted at when a model's inputs leave sizes open, and how they are written.

A model saved for any image size has no FLOP count of its own; Trimline counts it at the size the benchmark
form offers by default (224×224 for an image, 128 for another open size), so the FLOPs shown and the
latency the form measures by default describe the same work, and every place showing the count names it.
"""
from __future__ import annotations

from typing import Any


def is_open(dim: Any) -> bool:
    """Whether a signature's dimension is left open (None, a name, or negative)."""
    return dim is None or isinstance(dim, str) or (isinstance(dim, int) and dim < 0)


def dim_key(spec: dict[str, Any], position: int) -> str:
    """The name ``dim_values`` gives a dynamic dimension: its own (``seq``), or ``input:position`` when it has
    none (a Keras image model's ``[None, None, None, 3]`` has ``input_layer:1`` and ``input_layer:2``)."""
    dim = list(spec.get("shape") or [])[position]
    return dim if isinstance(dim, str) and dim else f"{spec['name']}:{position}"


def dynamic_dims(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every dynamic dimension other than the batch: ``key`` (for ``dim_values``), ``input``, ``position`` and a
    ``default`` size to offer (224 for the height and width of an image input, else 128)."""
    out = []
    for spec in inputs:
        shape = list(spec.get("shape") or [])
        image = len(shape) == 4 and (shape[3] in (1, 3, 4) or shape[1] in (1, 3, 4))
        spatial = {1, 2} if image and shape[3] in (1, 3, 4) else {2, 3} if image else set()
        out += [{"key": dim_key(spec, i), "input": spec["name"], "position": i, "default": 224 if i in spatial else 128}
                for i, dim in enumerate(shape) if i > 0 and is_open(dim)]
    return out


def nominal_sizes(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{key, input, position, size}]`` for each open size besides the batch (``key`` as ``dim_values``
    names it); [] when every size is fixed."""
    return [{"key": d["key"], "input": d["input"], "position": d["position"], "size": d["default"]}
            for d in dynamic_dims(inputs)]


def sizes_text(at: list[dict[str, Any]]) -> str:
    """``224×224`` for one input's open sizes; ``tokens 128, mask 128`` when several inputs have some."""
    by_input: dict[str, list[str]] = {}
    for d in at:
        by_input.setdefault(d["input"], []).append(str(d["size"]))
    parts = {name: "×".join(sizes) for name, sizes in by_input.items()}
    return next(iter(parts.values())) if len(parts) == 1 else ", ".join(f"{k} {v}" for k, v in parts.items())
