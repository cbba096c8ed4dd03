"""Interleaved A/B timing of two ONNX models on one machine, with a confidence interval on the ratio.

Why interleave: drift (thermal, a neighbour VM, frequency) hits A and B alike when their runs
alternate (A B, then B A, ...), so the paired ratio is far steadier than two separate benchmarks.

Why one thread pool: two sessions with their own intra-op pools steal the cores from each other —
an idle pool spins after each run. Measured here (2 vCPUs, MatMul 256×512·512² vs 256×724·724²,
2 threads, 3 repeats of 200 pairs): own pools with spinning gave A 0.65–1.17 ms (1.0× alone: 0.59)
and ratios 2.04/3.66/2.32; own pools with ``session.intra_op.allow_spinning=0`` gave 0.624 ms and
1.963/1.964/1.962; one global pool (``onnxruntime.set_global_thread_pool_sizes`` then
``use_per_session_threads=False``) gave 0.594 ms — the latency alone — and 2.025/2.020/2.018.
So the global pool is used; ORT lets a process create it once, so when it already exists with
other sizes the sessions fall back to their own non-spinning pools, and the result says which.
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

_GLOBAL_POOL: tuple[int, int] | None = None  # sizes this process's global pool was created with
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
               "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8",
               "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def _shared_pool(threads: int) -> bool:
    """Create (once) the process-wide pool with ``threads``; False if it exists with other sizes."""
    global _GLOBAL_POOL
    import onnxruntime as ort

    if _GLOBAL_POOL is None:
        try:
            ort.set_global_thread_pool_sizes(threads, 1)
            _GLOBAL_POOL = (threads, 1)
        except Exception:  # created earlier in this process by someone else
            _GLOBAL_POOL = (-1, -1)
    return _GLOBAL_POOL == (threads, 1)


def _session(path: Path, threads: int, shared: bool):
    import onnxruntime as ort

    from engine.measure.runners import ort_options

    options = ort_options(threads, spinning=shared)
    if shared:
        options.use_per_session_threads = False
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _feeds(session, batch: int, dim_values: dict[str, int] | None) -> dict[str, np.ndarray]:
    sig = [{"name": i.name, "shape": list(i.shape), "dtype": _ORT_DTYPES.get(i.type, "float32")}
           for i in session.get_inputs()]
    return make_feeds(sig, batch, dim_values)


def compare(a: Path, b: Path, batch: int = 1, threads: int = 1, warmup: int = 5, min_pairs: int = 30,
            max_pairs: int = 5000, time_budget_s: float = 4.0, target_rel_ci: float = 0.01,
            dim_values: dict[str, int] | None = None) -> dict[str, Any]:
    """Time ``a`` and ``b`` (ONNX files) alternately; B/A ratio of medians with a paired-bootstrap CI.

    ``significant`` is true when the ratio's 95% CI excludes 1 — the difference is beyond the noise.
    Raises MeasureError when a model cannot be loaded or run.
    """
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    shared = _shared_pool(threads)
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

    deadline = clock() + int(time_budget_s * 1e9)
    while len(ta) < max_pairs:
        first, second = ((sa, fa, ta), (sb, fb, tb)) if len(ta) % 2 == 0 else ((sb, fb, tb), (sa, fa, ta))
        timed(*first)
        timed(*second)
        n = len(ta)
        if n >= min_pairs and (clock() > deadline or (n % 20 == 0 and _tight(ta, tb, target_rel_ci))):
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
