"""The sizes FLOPs are counted at when a model's inputs leave sizes open, and how they are written.

A model saved for any image size has no FLOP count of its own; Trimline counts it at the size the benchmark
form offers by default (224×224 for an image, 128 for another open size), so the FLOPs shown and the
latency the form measures by default describe the same work, and every place showing the count names it.
"""
from __future__ import annotations

from typing import Any


def nominal_sizes(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{key, input, position, size}]`` for each open size besides the batch (``key`` as ``dim_values``
    names it); [] when every size is fixed."""
    from engine.measure.inputs import dynamic_dims

    return [{"key": d["key"], "input": d["input"], "position": d["position"], "size": d["default"]}
            for d in dynamic_dims(inputs)]


def sizes_text(at: list[dict[str, Any]]) -> str:
    """``224×224`` for one input's open sizes; ``tokens 128, mask 128`` when several inputs have some."""
    by_input: dict[str, list[str]] = {}
    for d in at:
        by_input.setdefault(d["input"], []).append(str(d["size"]))
    parts = {name: "×".join(sizes) for name, sizes in by_input.items()}
    return next(iter(parts.values())) if len(parts) == 1 else ", ".join(f"{k} {v}" for k, v in parts.items())
