"""Run a pass and gate its output on fidelity to its parent.

Conversions (tf2onnx, onnx-optimize, tflite without quantization, fp16) must reproduce their parent:
``gate`` fails the job with the numbers when they do not. Compressions store the same numbers as metrics.

Tolerance rule: an output passes when ``max_abs_diff <= tol * max(1, max|parent output|)`` — absolute for
outputs within [-1, 1] (probabilities), relative to the output's scale for logits and embeddings.
Defaults: 1e-3 for exact conversions, 1e-2 for float16 (10 mantissa bits: ~1e-3 relative per op,
accumulated over a network's depth), 5e-2 for a QAT model's conversion to Q/DQ ONNX (TF's fake-quant and
onnxruntime's int8 kernels may round a value to neighbouring int8 steps; top-1 must still agree on 95%).
"""
from __future__ import annotations

from typing import Any

from engine.artifact import Artifact
from engine.errors import FidelityError
from engine.fidelity import compare, sample_feeds
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec

DEFAULT_TOLERANCE = 1e-3
FP16_TOLERANCE = 1e-2
QDQ_TOLERANCE = 5e-2
QDQ_MIN_AGREEMENT = 0.95


def is_gated(spec: PassSpec, config: PassConfig | None = None) -> bool:
    """Whether the pass must reproduce its parent: conversions, and tflite only without quantization."""
    if spec.name == "tflite" and config is not None:
        return getattr(config, "quantization", "none") in ("none", "float16")
    return spec.kind == "conversion"


def default_tolerance(spec: PassSpec, config: PassConfig | None = None) -> float:
    if spec.name == "fp16" or (spec.name == "tflite" and getattr(config, "quantization", None) == "float16"):
        return FP16_TOLERANCE
    return DEFAULT_TOLERANCE


def gate(spec: PassSpec, metrics: dict[str, Any], tolerance: float | None = None,
         config: PassConfig | None = None) -> None:
    """Raise FidelityError with the numbers when a gated pass's output differs beyond tolerance."""
    if not is_gated(spec, config):
        return
    tol = default_tolerance(spec, config) if tolerance is None else tolerance
    allowed = tol * max(1.0, float(metrics.get("output_scale", 1.0)))
    agreement = metrics.get("top1_agreement")
    if tol >= QDQ_TOLERANCE and agreement is not None and agreement < QDQ_MIN_AGREEMENT:
        raise FidelityError(f"the {spec.name} output agrees with its parent's top-1 class on only "
                            f"{agreement:.1%} of samples (needs {QDQ_MIN_AGREEMENT:.0%}); the conversion is "
                            "not faithful — report the model.")
    if metrics["max_abs_diff"] > allowed:
        raise FidelityError(
            f"the {spec.name} output differs from its parent by up to {metrics['max_abs_diff']:.3g} "
            f"(mean relative {metrics['mean_rel_diff']:.3g}), beyond the tolerance {allowed:.3g}; "
            "the conversion is not faithful — try another opset or report the model.")


def run_pass(spec: PassSpec, source: Artifact, config: PassConfig, ctx: PassContext,
             tolerance: float | None = None, n: int = 64) -> PassResult:
    """Run ``spec`` on ``source``, compare its output with ``source`` on ``n`` samples (the dataset's when
    the context has one), gate conversions, and return the result with ``metrics["fidelity"]``."""
    from engine.runtime import open_model

    result = spec.run(source, config, ctx)
    ctx.progress(0.95, "checking fidelity to the parent")
    if "fidelity" in result.metrics:  # the pass compared with its own reference (compose: the two in sequence)
        fidelity = dict(result.metrics["fidelity"])
    else:
        inputs = open_model(source).inputs
        feeds = sample_feeds(inputs, n=n, dataset=ctx.dataset)
        fidelity = compare(source, result.artifact, feeds)
    fidelity["gated"] = is_gated(spec, config)
    if tolerance is None and result.metrics.get("qdq_nodes"):
        tolerance = QDQ_TOLERANCE
    gate(spec, fidelity, tolerance, config)
    return PassResult(result.artifact, {**result.metrics, "fidelity": fidelity})
