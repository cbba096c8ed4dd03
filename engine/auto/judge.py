"""Verdicts and sentences: whether a candidate meets the goal, why not, and the Pareto front."""
from __future__ import annotations

from typing import Any

from engine.auto.params import AutoParams, Candidate


def accuracy_budget(params: AutoParams, has_labels: bool, has_eval: bool) -> tuple[str, float] | None:
    """("drop", points) or ("fidelity", agreement): the budget the search applies, defaults filled in."""
    if params.max_accuracy_drop is not None:
        return ("drop", params.max_accuracy_drop) if has_labels else ("fidelity", 1 - params.max_accuracy_drop)
    if params.min_fidelity is not None:
        return ("fidelity", params.min_fidelity)
    if has_labels:
        return ("drop", 0.01)
    return ("fidelity", 0.99) if has_eval else None


def accuracy_verdict(c: Candidate, budget: tuple[str, float] | None, reference_accuracy: float | None) -> str | None:
    """None when within budget (or nothing to judge), else the reason it is rejected."""
    if budget is None:
        return None
    kind, limit = budget
    if kind == "drop" and c.accuracy is not None and reference_accuracy is not None:
        drop = reference_accuracy - c.accuracy
        if drop > limit + 1e-9:
            return f"accuracy −{drop * 100:.1f} points > budget {limit * 100:g} points"
    if kind == "fidelity" and c.agreement is not None and c.agreement < limit:
        return f"top-1 agreement with the parent {c.agreement:.1%} < {limit:.1%}"
    return None


# Two A/B-timed copies of one graph differ by a percent or two on a shared machine even when the CI of
# their ratio is narrow (call order, cache and page placement): a ratio this close to 1 is "no faster",
# never "slower" or "faster".
NOISE = 0.03


def faster(c: Candidate) -> bool:
    """Faster than the parent beyond the noise: the ratio's CI below 1 and the gain above ``NOISE``."""
    return c.ratio is not None and (c.ratio_ci95 or [1, 1])[1] < 1 and c.ratio < 1 - NOISE


def slower(c: Candidate) -> bool:
    """Slower than the parent beyond the noise: the ratio's CI above 1 and the loss above ``NOISE``."""
    return c.ratio is not None and (c.ratio_ci95 or [0, 0])[0] > 1 and c.ratio > 1 + NOISE


def speed_reason(c: Candidate) -> str:
    """Why a candidate is not faster ('' when it is); 'slower' only beyond the noise."""
    if c.ratio is None or faster(c):
        return ""
    lo, hi = c.ratio_ci95 or [c.ratio, c.ratio]
    if slower(c):
        cause = " (activation scales are computed at run time)" if "dynamic" in c.label.lower() else ""
        cause = cause or (" (float16 runs through casts on this CPU)" if "float16" in c.label else "")
        return f"{c.ratio:.2f}× the parent's latency: slower beyond the noise{cause}"
    if lo > 1 or hi < 1:
        return (f"{c.ratio:.2f}× the parent's latency: no faster, within the noise (95% CI {lo:.2f}–{hi:.2f}; "
                f"differences under {NOISE:.0%} are not counted)")
    return f"{c.ratio:.2f}× the parent's latency: not faster beyond the noise (95% CI {lo:.2f}–{hi:.2f})"


def pareto(rows: list[Candidate]) -> list[Candidate]:
    """Candidates no other one beats on latency, size and accuracy (agreement where accuracy is unknown) at once."""
    def point(c: Candidate) -> tuple[float, float, float]:
        quality = c.accuracy if c.accuracy is not None else (c.agreement if c.agreement is not None else 0.0)
        return (c.p50_ms, float(c.size_bytes or 0), -quality)

    pts = [(c, point(c)) for c in rows if c.p50_ms is not None and c.status != "failed"]
    front = []
    for c, p in pts:
        dominated = any(all(q[i] <= p[i] for i in range(3)) and any(q[i] < p[i] for i in range(3)) for _, q in pts)
        if not dominated:
            front.append(c)
    return front


def explanation(best: Candidate | None, reference: Candidate, params: AutoParams, hardware: dict[str, Any],
                reason_none: str) -> str:
    """One paragraph: what is recommended and why, with the figures, the parent and the hardware."""
    cpu = hardware.get("cpu", "this CPU")
    flags = hardware.get("flags", {})
    isa = "VNNI/AMX int8 dot products" if any(flags.get(f) for f in ("avx512_vnni", "avx_vnni", "amx_int8")) \
        else ("AVX2 only, no VNNI" if flags.get("avx2") else "no AVX2")
    where = f"on {cpu} ({isa}), batch {params.batch}, {reference.settings.get('threads')} thread(s)"
    if best is None:
        return f"Recommended: the {reference.label} as it is. {reason_none} Measured {where}."
    lo, hi = best.ratio_ci95 or [best.ratio, best.ratio]
    acc = ""
    if best.accuracy is not None and reference.accuracy is not None:
        acc = (f" Accuracy {best.accuracy:.1%} vs the parent's {reference.accuracy:.1%} "
               f"({(best.accuracy - reference.accuracy) * 100:+.1f} points).")
    elif best.agreement is not None:
        acc = f" Top-1 agreement with the parent {best.agreement:.1%}."
    size = ""
    if best.size_bytes and reference.size_bytes:
        size = f" Size {best.size_bytes / 1e6:.2f} MB vs {reference.size_bytes / 1e6:.2f} MB"
        if best.size_gzip_bytes and reference.size_gzip_bytes:
            size += (f" on disk, {best.size_gzip_bytes / 1e6:.3f} MB vs {reference.size_gzip_bytes / 1e6:.3f} MB "
                     "compressed as a bundle ships it")
        size += "."
    floats = f" {len(best.float_nodes)} node(s) stay float to keep accuracy: {', '.join(best.float_nodes)}." \
        if best.float_nodes else ""
    settings = ", ".join(f"{k} {v}" for k, v in best.settings.items())
    return (f"Recommended: {best.label} — p50 {best.p50_ms:.3f} ms vs the parent's {reference.p50_ms:.3f} ms, "
            f"{1 / best.ratio:.2f}× as fast (ratio {best.ratio:.3f}, 95% CI {lo:.3f}–{hi:.3f}, timed interleaved "
            f"with the parent), so the gain is beyond the noise.{acc}{size}{floats} Serve it with {settings}. "
            f"Measured {where}.")
