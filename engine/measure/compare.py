"""Interleaved A/B timing of two ONNX models on one machine, with a confidence interval on the ratio.

Why interleave: drift (thermal, a neighbour VM, frequency) hits A and B alike when their runs
alternate (A B, then B A, ...), so the paired ratio is far steadier than two separate benchmarks.

Why one thread pool: two sessions with their own intra-op pools steal the cores from each other —
an idle pool spins after each run. Measured here (2 vCPUs, MatMul 256×512·512² vs 256×724·724²,
2 threads, 3 repeats of 200 pairs): own pools with spinning gave A 0.65–1.17 ms (1.0× alone: 0.59)
and ratios 2.04/3.66/2.32; own pools with ``session.intra_op.allow_spinning=0`` gave 0.624 ms and
1.963/1.964/1.962; one global pool (``onnxruntime.set_global_thread_pool_sizes`` then
``use_per_session_threads=False``) gave 0.594 ms — the latency alone — and 2.025/2.020/2.018.
So the global pool is used — in a fresh child process, because ORT lets a process create it once
and, once it exists, refuses every session that asks for its own pool ("use_per_session_threads must
be false when using a global thread pool"): creating it in the caller would break later benchmarks
there. ``isolate=False`` stays in-process with non-spinning per-session pools instead.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import MeasureError
from engine.measure.inputs import make_feeds
from engine.measure.stats import median_ci, ratio_ci

SETTLE_S = 0.5  # the least time spent timing before the CI may stop it (half the budget when that is shorter)

_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
               "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8",
               "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def _session(path: Path, threads: int, shared: bool):
    import onnxruntime as ort

    from engine.measure.runners import ort_options

    if shared:  # sizes come from the global pool; setting them per session only draws a warning
        options = ort.SessionOptions()
        options.use_per_session_threads = False
    else:
        options = ort_options(threads, spinning=False)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _feeds(session, batch: int, dim_values: dict[str, int] | None) -> dict[str, np.ndarray]:
    sig = [{"name": i.name, "shape": list(i.shape), "dtype": _ORT_DTYPES.get(i.type, "float32")}
           for i in session.get_inputs()]
    return make_feeds(sig, batch, dim_values)


def compare(a: Path, b: Path, batch: int = 1, threads: int | None = None, warmup: int = 5, min_pairs: int = 30,
            max_pairs: int = 5000, time_budget_s: float = 4.0, target_rel_ci: float = 0.01,
            dim_values: dict[str, int] | None = None, isolate: bool = True) -> dict[str, Any]:
    """Time ``a`` and ``b`` (ONNX files) alternately; B/A ratio of medians with a paired-bootstrap CI.

    ``significant`` is true when the ratio's 95% CI excludes 1 — the difference is beyond the noise.
    ``isolate`` runs the timing in a fresh process that shares one global ORT thread pool between the
    two sessions; ``threads`` defaults to the cores this process may use. Raises MeasureError when a
    model cannot be loaded or run.
    """
    if threads is None:
        from engine.measure.hardware import usable_cores

        threads = usable_cores()
    args = (Path(a), Path(b), batch, threads, warmup, min_pairs, max_pairs, time_budget_s, target_rel_ci,
            dim_values, isolate)
    if not isolate:
        return _compare_here(*args)
    from engine.measure.spawning import spawn_pool

    with spawn_pool(1) as pool:
        return pool.apply(_compare_here, args)


def _compare_here(a: Path, b: Path, batch: int, threads: int, warmup: int, min_pairs: int, max_pairs: int,
                  time_budget_s: float, target_rel_ci: float, dim_values: dict[str, int] | None,
                  shared: bool) -> dict[str, Any]:
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    if shared:
        import onnxruntime as ort

        ort.set_global_thread_pool_sizes(threads, 1)
    try:
        sa, sb = _session(Path(a), threads, shared), _session(Path(b), threads, shared)
        fa, fb = _feeds(sa, batch, dim_values), _feeds(sb, batch, dim_values)
        for _ in range(warmup):
            sa.run(None, fa)
            sb.run(None, fb)
    except Exception as exc:
        raise MeasureError(f"could not run the two models for comparison: {exc}") from exc
    clock = time.perf_counter_ns
    ta: list[float] = []
    tb: list[float] = []

    def timed(session, feeds, out: list[float]) -> None:
        t0 = clock()
        session.run(None, feeds)
        out.append((clock() - t0) / 1e6)

    started = clock()
    deadline = started + int(time_budget_s * 1e9)
    # Never stopped early before this: a tiny model met the CI target within 40 pairs (8 ms), and a self-comparison
    # so short read 1.23 (CI 0.90-1.40) when a neighbour's burst fell on a few of B's runs.
    settled = started + int(min(SETTLE_S, time_budget_s / 2) * 1e9)
    while len(ta) < max_pairs:
        first, second = ((sa, fa, ta), (sb, fb, tb)) if len(ta) % 2 == 0 else ((sb, fb, tb), (sa, fa, ta))
        timed(*first)
        timed(*second)
        n = len(ta)
        if n < min_pairs:
            continue
        now = clock()
        if now > deadline or (now > settled and n % 20 == 0 and _tight(ta, tb, target_rel_ci)):
            break
    ratio, lo, hi = ratio_ci(ta, tb)
    return {
        "a": {"path": str(a), "p50_ms": float(np.median(ta)), "ci95_p50": list(median_ci(ta))},
        "b": {"path": str(b), "p50_ms": float(np.median(tb)), "ci95_p50": list(median_ci(tb))},
        "ratio_b_over_a": ratio, "ratio_ci95": [lo, hi], "significant": bool(lo > 1.0 or hi < 1.0),
        "pairs": len(ta), "batch": batch, "threads": threads,
        "thread_pool": "shared global pool" if shared else "per-session pools, spinning off",
        "samples": {"a": ta, "b": tb},
    }


def _tight(ta: list[float], tb: list[float], target: float) -> bool:
    from engine.measure.stats import rel_half_width

    return rel_half_width(ta) < target and rel_half_width(tb) < target
