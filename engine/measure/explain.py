"""Sentences that explain a derived model's speed against its parent, each from a measured number.

Nothing here assumes that int8 is faster: the sentences come from the two benchmarks (matching
batch/threads cells), the hardware fingerprint's ISA flags, and the child's per-operator profile and
optimized-graph facts (``engine.measure.profile``). When the evidence shows no cause, it says so.
"""
from __future__ import annotations

from typing import Any

from engine.measure.stats import ratio_ci

TINY_MS = 0.2  # below this per batch, fixed per-op costs (quantizing the input, ...) weigh heavily


def _key(r: dict[str, Any], full: bool) -> tuple:
    base = (r["batch"], r["threads"])
    return base + (str(r.get("opt_level")), str(r.get("execution_mode"))) if full else base


def _sample_key(r: dict[str, Any]) -> str:
    from engine.measure.benchmark import cell_key

    return cell_key(r["batch"], r["threads"], r.get("opt_level"), r.get("execution_mode"))


def _pair(parent: dict, child: dict) -> tuple[dict, dict] | None:
    """A cell both benchmarks measured — same (batch, threads, opt level, mode) if any, else same
    (batch, threads) — preferring batch 1 and the fewest threads."""
    for full in (True, False):
        mine = {_key(r, full): r for r in child.get("results", [])}
        shared = sorted(((_key(r, full), i) for i, r in enumerate(parent.get("results", []))
                         if _key(r, full) in mine), key=lambda ki: ki[0][:2])
        if shared:
            key, i = shared[0]
            return parent["results"][i], mine[key]
    return None


def _ratio(parent: dict, child: dict, p: dict, c: dict) -> tuple[float, bool, str]:
    """child/parent p50, whether it is beyond the noise, and how that was judged."""
    sp, sc = parent.get("samples", {}).get(_sample_key(p)), child.get("samples", {}).get(_sample_key(c))
    if sp and sc:
        ratio, lo, hi = ratio_ci(sp, sc)
        return ratio, lo > 1 or hi < 1, f"the ratio's 95% CI is {lo:.2f}–{hi:.2f}"
    (plo, phi), (clo, chi) = p["latency_ms"]["ci95_p50"], c["latency_ms"]["ci95_p50"]
    ratio = c["latency_ms"]["p50"] / p["latency_ms"]["p50"]
    apart = chi < plo or clo > phi
    return ratio, apart, "the medians' 95% CIs " + ("do not overlap" if apart else "overlap")


def _isa(hardware: dict) -> str | None:
    flags = hardware.get("flags", {})
    has = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8") if flags.get(f)]
    cpu = hardware.get("cpu", "this CPU")
    if has:
        return (f"{cpu} reports {', '.join(has)}, so int8 dot products are native here; the slowdown "
                "is not for want of integer instructions.")
    return (f"{cpu} reports no VNNI or AMX instructions (avx2: {'yes' if flags.get('avx2') else 'no'}, "
            "avx512_vnni: no, avx_vnni: no, amx_int8: no), so int8 dot products need several "
            "instructions each and can cost more than the float32 kernels they replace.")


def _profile_sentences(info: dict, profile: dict | None) -> list[str]:
    out = []
    if profile and profile.get("op_types"):
        top = profile["op_types"][0]
        if "share" in top and "ms_per_run" in top:
            out.append(f"Most of the child's kernel time goes to {top['op_type']} ({top['share']:.0%}, "
                       f"{top['ms_per_run']:.3f} ms per run).")
    pairs = info.get("unfused_qdq_pairs", 0)
    if pairs:
        examples = ", ".join(info.get("unfused_examples", [])[:3])
        out.append(f"{pairs} DequantizeLinear → op → QuantizeLinear pattern(s) were left unfused in the "
                   f"optimized graph ({examples}), so those ops run in float between two conversions.")
    floats = info.get("float_compute_ops") or {}
    if floats:
        listed = ", ".join(f"{t} ×{n}" for t, n in sorted(floats.items()))
        share = f", {profile['float_compute_share']:.0%} of kernel time" if profile else ""
        out.append(f"{sum(floats.values())} compute op(s) fell back to float ({listed}{share}).")
    if profile and profile.get("qdq_share", 0) >= 0.05:
        per_run = profile["qdq_share"] * profile["kernel_ms_per_run"]
        dynamic = ("; DynamicQuantizeLinear computes each activation's scale at run time"
                   if any(r["op_type"] == "DynamicQuantizeLinear" for r in profile.get("op_types", [])) else "")
        out.append(f"Quantize/dequantize ops take {profile['qdq_share']:.0%} of the kernel time "
                   f"({per_run:.3f} ms per run){dynamic}.")
    return out


def tone(parent: dict[str, Any], child: dict[str, Any], identical: bool = False) -> str:
    """``warning`` when ``child`` is slower than ``parent`` beyond the noise (what ``explain`` then goes on
    to account for), else ``info``: how a page shows the explanation."""
    pair = None if identical else _pair(parent, child)
    if pair is None:
        return "info"
    ratio, beyond, _ = _ratio(parent, child, *pair)
    return "warning" if ratio > 1 and beyond else "info"


def explain(parent: dict[str, Any], child: dict[str, Any], hardware: dict[str, Any],
            child_graph_info: dict[str, Any] | None = None, identical: bool = False) -> list[str]:
    """Why ``child`` (a benchmark result) is slower or faster than ``parent``; empty if no cell matches.

    ``identical``: the two are the same computation (same file, or the same graph under other names);
    then no difference is claimed, whatever two separate benchmarks happened to measure."""
    pair = _pair(parent, child)
    if pair is None:
        return []
    p, c = pair
    ratio, beyond, how = _ratio(parent, child, p, c)
    pp, cp = p["latency_ms"]["p50"], c["latency_ms"]["p50"]
    where = f"at batch {p['batch']}, {p['threads']} thread{'s' if p['threads'] > 1 else ''}"
    if identical:
        return [f"The child computes exactly what its parent does (the same operators and weights), so it "
                f"cannot be faster or slower; the two benchmarks' p50s {where} ({cp:.3f} ms vs {pp:.3f} ms, "
                f"ratio {ratio:.2f}) differ only by measurement noise. Time them together with "
                "`trimline compare A B --interleaved` to see that."]
    if ratio <= 1:
        verdict = "beyond the noise" if beyond else "within the noise"
        return [f"The child is {1 / ratio:.2f}× as fast as its parent {where} (p50 {cp:.3f} ms vs "
                f"{pp:.3f} ms); {how}, so the gain is {verdict}."]
    lines = [f"The child is {ratio:.2f}× slower than its parent {where} (p50 {cp:.3f} ms vs {pp:.3f} ms); "
             f"{how}, so the loss is {'beyond' if beyond else 'within'} the noise."]
    if not beyond:
        return lines
    profile = child.get("profile")
    info = child_graph_info or profile or {}
    quantized = bool(info.get("quantized")) or bool(profile and profile.get("quantized_share", 0) > 0)
    if quantized:
        isa = _isa(hardware)
        if isa:
            lines.append(isa)
    lines += _profile_sentences(info, profile)
    physical = (hardware.get("cores") or {}).get("physical")
    if physical and c["threads"] > physical:
        lines.append(f"The cell used {c['threads']} threads on {physical} physical cores; oversubscribed "
                     "pools contend for the cores and a quantized graph's many small ops suffer most.")
    if quantized and pp < TINY_MS:
        lines.append(f"The parent needs only {pp:.3f} ms per batch, so quantization's fixed costs "
                     "(quantizing the input, dequantizing the output, per-op overhead) weigh heavily.")
    if len(lines) == 1:
        lines.append("The evidence at hand names no cause; benchmark both with profile on to see where the time goes.")
    return lines
