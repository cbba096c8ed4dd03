"""Fidelity of a derived model to its parent: sample inputs, compare outputs, gate conversions.

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

import numpy as np

from engine.artifact import Artifact
from engine.errors import FidelityError
from engine.passes.base import DatasetArrays, PassConfig, PassContext, PassResult, PassSpec

DEFAULT_TOLERANCE = 1e-3
FP16_TOLERANCE = 1e-2
QDQ_TOLERANCE = 5e-2
QDQ_MIN_AGREEMENT = 0.95
INT_HIGH = 16  # generated integer inputs (token ids) stay in [0, 16): valid for any vocabulary of 16+
DYNAMIC_DIM = 8  # non-batch dynamic dimensions (sequence length) in generated inputs


def sample_feeds(inputs: list[dict[str, Any]], n: int = 32, seed: int = 0,
                 dataset: DatasetArrays | None = None) -> dict[str, np.ndarray]:
    """``n`` input rows by input name: the dataset's first rows when given, else generated from the
    signature (floats uniform in [0, 1), integers in [0, 16); batch = n, other dynamic dims = 8)."""
    if dataset is not None:
        return _from_dataset(inputs, n, dataset)
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in inputs:
        shape = list(spec.get("shape") or [])
        dims = [n if i == 0 else (d if isinstance(d, int) and d > 0 else DYNAMIC_DIM) for i, d in enumerate(shape)]
        dtype = np.dtype(spec.get("dtype") or "float32")
        if np.issubdtype(dtype, np.integer):
            feeds[spec["name"]] = rng.integers(0, INT_HIGH, size=dims).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec["name"]] = rng.integers(0, 2, size=dims).astype(bool)
        else:
            feeds[spec["name"]] = rng.random(dims).astype(dtype)
    return feeds


def _from_dataset(inputs: list[dict[str, Any]], n: int, dataset: DatasetArrays) -> dict[str, np.ndarray]:
    if isinstance(dataset.x, dict):
        values = match_inputs(inputs, dataset.x)
    else:
        values = [dataset.x]
    return {spec["name"]: np.asarray(v[:n]) for spec, v in zip(inputs, values)}


def _clean(name: str) -> str:
    name = name.split(":")[0]
    for prefix in ("serving_default_",):
        name = name.removeprefix(prefix)
    return name


def match_inputs(inputs: list[dict[str, Any]], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Feeds in the order of ``inputs``: by exact name, then by name without ``:0``/``serving_default_``
    decorations, then the remaining feeds by position (names differ across formats)."""
    clean = {_clean(k): k for k in feeds}
    chosen: list[str | None] = []
    for spec in inputs:
        name = spec["name"]
        key = name if name in feeds else clean.get(_clean(name))
        chosen.append(key)
    spare = iter(k for k in feeds if k not in chosen)
    out = []
    for spec, key in zip(inputs, chosen):
        key = key if key is not None else next(spare, None)
        if key is None:
            raise FidelityError(f"the model needs an input '{spec['name']}' the sample data does not provide.")
        out.append(feeds[key])
    return out


def _predict(predictor: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    values = match_inputs(predictor.inputs, feeds)
    cast = {spec["name"]: np.asarray(v).astype(spec.get("dtype") or v.dtype, copy=False)
            for spec, v in zip(predictor.inputs, values)}
    batch = next(iter(cast.values())).shape[0] if cast else 1
    fixed = predictor.inputs[0]["shape"][0] if predictor.inputs and predictor.inputs[0]["shape"] else None
    step = fixed if isinstance(fixed, int) and fixed > 0 and fixed != batch else batch
    chunks = [predictor.run({k: v[s:s + step] for k, v in cast.items()}) for s in range(0, batch, step)]
    return [np.concatenate([c[i] for c in chunks]).astype(np.float32) for i in range(len(chunks[0]))]


def compare(parent: Artifact, child: Artifact, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
    """Run both models on ``feeds``: ``max_abs_diff``, ``mean_rel_diff`` (mean |Δ| over mean |parent|),
    ``output_scale`` (max |parent|), ``top1_agreement`` (first output, when it is (batch, classes);
    else None) and ``samples``."""
    from engine.runtime import open_model

    a = _predict(open_model(parent), feeds)
    b = _predict(open_model(child), feeds)
    if len(a) != len(b):
        raise FidelityError(f"the derived model has {len(b)} outputs where its parent has {len(a)}.")
    max_abs, rel, scale = 0.0, [], 0.0
    for pa, pb in zip(a, b):
        if pa.shape != pb.shape:
            pb = pb.reshape(pa.shape) if pb.size == pa.size else pb
        if pa.shape != pb.shape:
            raise FidelityError(f"the derived model's output shape {pb.shape} differs from its parent's {pa.shape}.")
        diff = np.abs(pa - pb)
        max_abs = max(max_abs, float(diff.max(initial=0.0)))
        scale = max(scale, float(np.abs(pa).max(initial=0.0)))
        rel.append(float(diff.mean() / (np.abs(pa).mean() + 1e-12)))
    top1 = None
    if a[0].ndim == 2 and a[0].shape[1] > 1:
        top1 = float(np.mean(a[0].argmax(1) == b[0].argmax(1)))
    return {"max_abs_diff": max_abs, "mean_rel_diff": float(np.mean(rel)) if rel else 0.0,
            "output_scale": scale, "top1_agreement": top1, "samples": int(a[0].shape[0]) if a[0].ndim else 1}


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
    inputs = open_model(source).inputs
    feeds = sample_feeds(inputs, n=n, dataset=ctx.dataset)
    fidelity = compare(source, result.artifact, feeds)
    fidelity["gated"] = is_gated(spec, config)
    if tolerance is None and result.metrics.get("qdq_nodes"):
        tolerance = QDQ_TOLERANCE
    gate(spec, fidelity, tolerance, config)
    return PassResult(result.artifact, {**result.metrics, "fidelity": fidelity})
