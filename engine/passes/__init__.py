"""The pass registry: one explicit dict, by name. Heavy libraries are imported inside each ``run()``."""
from __future__ import annotations

from engine.passes.base import PassSpec

PASSES: dict[str, PassSpec] = {}


def register(spec: PassSpec) -> None:
    if spec.name in PASSES:
        raise ValueError(f"a pass named {spec.name!r} is already registered")
    PASSES[spec.name] = spec


def get_pass(name: str) -> PassSpec:
    try:
        return PASSES[name]
    except KeyError:
        known = ", ".join(sorted(PASSES))
        raise ValueError(f"unknown pass {name!r}; known passes: {known}") from None


def _load() -> None:
    # Explicit list: greppable, no import-order magic. Each module defines PASS.
    from engine.passes import ort_quantize_dynamic, tf2onnx_convert

    for module in (tf2onnx_convert, ort_quantize_dynamic):
        register(module.PASS)


_load()
