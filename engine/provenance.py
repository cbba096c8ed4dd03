"""Where a figure comes from, in words: the runtime, batch, threads and hardware of a latency, the data set,
sample count and date of an accuracy, and whether two latencies may be divided at all. Pure functions over
plain measurement documents, shared by the dashboard, the CLI and the report."""
from __future__ import annotations

from typing import Any

# The ISA flags that change which kernels run (and so what a latency means).
KEY_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16")


def first_cell(summary: dict[str, Any]) -> dict[str, Any]:
    results = summary.get("results") or []
    return results[0] if results and isinstance(results[0], dict) else {}


def setting(summary: dict[str, Any], runtime: str | None) -> dict[str, Any]:
    """The settings that must match for two latencies to be divided: runtime, batch, threads, opt level, mode,
    and a search's shared screening pool."""
    cell = first_cell(summary)
    return {"runtime": runtime or summary.get("runtime"), "batch": cell.get("batch"), "threads": cell.get("threads"),
            "opt_level": cell.get("opt_level"), "execution_mode": cell.get("execution_mode"),
            "thread_pool": cell.get("thread_pool")}


def hardware_text(hw: dict[str, Any] | None) -> str:
    """``Intel Xeon · 2 cores · AVX2 AVX-512 VNNI`` (the flags that matter)."""
    if not hw:
        return "hardware unknown"
    if "_text" in hw:
        return hw["_text"]
    flags = [f for f in KEY_FLAGS if (hw.get("flags") or {}).get(f)]
    cores = hw.get("cores")
    cores = cores.get("logical") if isinstance(cores, dict) else cores
    return f"{hw.get('cpu') or '?'} · {cores or '?'} cores · " + (" ".join(f.upper() for f in flags) or "no AVX2")


def versions_text(hw: dict[str, Any] | None) -> str:
    versions = (hw or {}).get("versions") or {}
    return ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v) or "library versions unknown"


def latency_text(summary: dict[str, Any], runtime: str | None, hw: dict[str, Any] | None) -> str:
    """``onnxruntime · batch 1 · 1 thread · opt all · <hardware>``, and where a search timed it, which search."""
    s = setting(summary, runtime)
    parts = [s["runtime"] or "runtime ?", f"batch {s['batch']}", f"{s['threads']} thread(s)"]
    if s["opt_level"]:
        parts.append(f"opt {s['opt_level']}")
    if s["thread_pool"]:  # a search's screening: one pool shared by its sessions
        parts.append(f"{s['thread_pool']} thread pool")
    source = source_text(summary)
    return " · ".join(str(p) for p in parts) + " · " + hardware_text(hw) + (f" · {source}" if source else "")


def source_text(summary: dict[str, Any] | None) -> str:
    """``timed by the search (job #12, final round-robin against #3)`` for a benchmark a search stored
    (``engine.auto.measured``), else "" (a benchmark job's figures need no word on where they came from)."""
    if not summary or summary.get("source") != "auto":
        return ""
    search = summary.get("search") or {}
    job = search.get("job_id")
    against = search.get("reference_id")
    how = search.get("method") or "interleaved timing"
    if search.get("is_reference"):
        how += ", as the reference every candidate was timed against"
    elif against is not None:
        how += f" against #{against}"
        ratio, ci = search.get("ratio"), search.get("ratio_ci95")
        if ratio is not None:  # the figure the search judged by: a ratio of p50s from two timings is not it
            how += f": {ratio:.2f}× its latency" + (f", 95% CI {ci[0]:.2f}–{ci[1]:.2f}" if ci else "")
    return f"timed by the search (job #{job}, {how})" if job is not None else f"timed by a search ({how})"


def accuracy_text(summary: dict[str, Any], dataset: dict[str, Any] | None, created_at: str | None) -> str:
    """``on held-out (#2, evaluation) · 360 samples · 2026-12-02`` (the count left out when it was not recorded,
    as by a search's evaluations, rather than ``None samples``)."""
    name = f"{dataset['name']} (#{dataset['id']}{', ' + dataset['role'] if dataset.get('role') else ''})" \
        if dataset else "an unknown data set"
    count = f" · {summary['n_samples']} samples" if summary.get("n_samples") is not None else ""
    return f"on {name}{count} · {(created_at or '')[:10] or 'date unknown'}"


def noise(summary: dict[str, Any]) -> list[str]:
    """The benchmark's own warnings about other load on the CPU while it was timed."""
    return [str(w) for w in summary.get("warnings") or [] if "CPU" in str(w) or "unreliable" in str(w)]


def ratio_basis(a: dict[str, Any], b: dict[str, Any], hw_a: int | None, hw_b: int | None) -> str:
    """How two latencies relate: ``like with like``, ``different runtime``, ``different settings`` or
    ``different hardware`` (the first difference found, hardware first)."""
    if hw_a != hw_b:
        return "different hardware"
    if a.get("runtime") != b.get("runtime"):
        return "different runtime"
    if any(a.get(k) != b.get(k) for k in ("batch", "threads", "opt_level", "execution_mode", "thread_pool")):
        return "different settings"
    return "like with like"


def pareto(rows: list[dict[str, Any]]) -> set[int]:
    """Ids of rows no other row beats on latency, size and (where every timed row has it) accuracy at once."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None and r.get("size_bytes") is not None]
    use_acc = bool(timed) and all(r.get("accuracy") is not None for r in timed)

    def key(r: dict[str, Any]) -> tuple[float, ...]:
        k = (float(r["latency_p50_ms"]), float(r["size_bytes"]))
        return k + (-float(r["accuracy"]),) if use_acc else k

    keys = {r["id"]: key(r) for r in timed}
    # sweep on the first key: only rows earlier in the order can dominate a later one
    order = sorted(keys, key=lambda i: keys[i])
    front: list[int] = []
    for i in order:
        ki = keys[i]
        if not any(all(x <= y for x, y in zip(keys[j], ki)) and keys[j] != ki for j in front):
            front.append(i)
    return set(front)
