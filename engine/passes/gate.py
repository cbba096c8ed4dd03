"""Run a pass and gate its output on fidelity to its parent.

A gated pass (a conversion, or what its config says) must reproduce its parent within its tolerance
(``engine.passes.tolerances`` holds the rule): ``gate`` fails the job with the numbers when it does not.
Other passes store the same numbers as metrics. ``engine.fidelity`` measures; this module decides.
"""
from __future__ import annotations

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
        raise FidelityError(f"the {spec.name} output agrees with its parent's top-1 class on only "
                            f"{agreement:.1%} of samples (needs {min_agreement:.0%}); the conversion is "
                            "not faithful — report the model.")
    if metrics["max_abs_diff"] > allowed:
        raise FidelityError(
            f"the {spec.name} output differs from its parent by up to {metrics['max_abs_diff']:.3g} "
            f"(mean relative {metrics['mean_rel_diff']:.3g}), beyond the tolerance {allowed:.3g}; "
            "the conversion is not faithful — try another opset or report the model.")


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
