"""Run a pass and gate its output on fidelity to its parent.

A gated pass (a conversion, or what its config says) must reproduce its parent within its tolerance
(``engine.passes.tolerances`` holds the rule): ``gate`` fails the job with the numbers when it does not.
Other passes store the same numbers as metrics. ``engine.fidelity`` measures; this module decides.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.artifact import Artifact
from engine.errors import FidelityError
from engine.fidelity import compare, reference_feeds
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec


def gate(spec: PassSpec, metrics: dict[str, Any], config: PassConfig | None = None,
         tolerance: float | None = None, min_agreement: float | None = None) -> None:
    """Raise FidelityError with the numbers when a gated pass's output differs beyond tolerance
    (``tolerance``, else the pass's own for ``config``), or its top-1 agreement is below ``min_agreement``."""
    if not spec.is_gated(config):
        return
    tol = spec.tolerance_for(config) if tolerance is None else tolerance
    allowed = tol * max(1.0, float(metrics.get("output_scale", 1.0)))
    agreement = metrics.get("top1_agreement")
    if min_agreement is not None and agreement is not None and agreement < min_agreement:
        n = int(metrics.get("samples") or 1)
        low, high = agreement_ci(agreement, n)
        if high < min_agreement:  # below the bar beyond a sample's chance, not by one or two near-ties
            raise FidelityError(f"the {spec.name} output agrees with its parent's top-1 class on only "
                                f"{agreement:.1%} of {n} samples (95% CI {low:.1%}–{high:.1%}; needs "
                                f"{min_agreement:.0%}); the conversion is not faithful — report the model.")
    if metrics["max_abs_diff"] > allowed:
        raise FidelityError(
            f"the {spec.name} output differs from its parent by up to {metrics['max_abs_diff']:.3g} "
            f"(mean relative {metrics['mean_rel_diff']:.3g}), beyond the tolerance {allowed:.3g}; "
            "the conversion is not faithful — try another opset or report the model.")


def agreement_ci(agreement: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's 95% interval for a top-1 agreement seen on ``n`` samples. A Q/DQ conversion moves a few
    near-tie samples to the neighbouring class (TF's fake-quant and ONNX Runtime's int8 kernels round a
    value to neighbouring steps); the gate refuses only when even the interval's top is below the bar."""
    centre = (agreement + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(agreement * (1 - agreement) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


AGREEMENT_SAMPLES = 512  # rows (the data set's, up to its size) a top-1 agreement is measured on


def run_pass(spec: PassSpec, source: Artifact, config: PassConfig, ctx: PassContext,
             tolerance: float | None = None, n: int = 64) -> PassResult:
    """Run ``spec`` on ``source``, compare its output with ``source`` on ``n`` samples (the dataset's when
    the context has one), gate it, and return the result with ``metrics["fidelity"]``.

    ``tolerance`` overrides the pass's and the result's own."""
    result = spec.run(source, config, ctx)
    ctx.progress(0.95, "checking fidelity to the parent")
    if "fidelity" in result.metrics:  # the pass compared with its own reference (compose: the two in sequence)
        fidelity = dict(result.metrics["fidelity"])
    else:
        # a result judged by top-1 agreement (a Q/DQ conversion) is judged on more samples: on 64, a faithful
        # conversion that agrees 97% of the time shows 4 misses (3 allowed at 95%) in one check of eight
        n = max(n, AGREEMENT_SAMPLES) if result.min_agreement is not None else n
        feeds, expected = _parent_outputs(source, ctx, n)
        fidelity = compare(source, result.artifact, feeds, parent_outputs=expected)
    fidelity["gated"] = spec.is_gated(config)
    gate(spec, fidelity, config, tolerance if tolerance is not None else result.tolerance, result.min_agreement)
    return PassResult(result.artifact, {**result.metrics, "fidelity": fidelity})


def _parent_outputs(source: Artifact, ctx: PassContext, n: int) -> tuple[dict[str, Any], list[Any]]:
    """The check's inputs and the parent's outputs on them; taken from ``ctx.reference_outputs`` when a
    caller checking many children of one parent keeps them there (a Keras parent takes seconds to load)."""
    key = (str(Path(source.path).resolve()), n)
    cache = ctx.reference_outputs
    if cache is not None and key in cache:
        return cache[key]
    found = reference_feeds(source, n, ctx.dataset)
    if cache is not None:
        cache[key] = found
    return found
