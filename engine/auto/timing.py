"""Interleaved timing of each candidate against the reference (the parent as ONNX Runtime serves it).

Ratios the search acts on come from A B A B … loops, never from two separate benchmarks: drift hits both
sides alike. One long-lived process times all ONNX candidates on one global ORT thread pool (two
per-session pools steal the cores from each other, see ``engine.measure.compare``); TFLite candidates
are timed in a second process against a reference session whose pool spins only within a run, since an
idle spinning ORT pool would steal the cores from the TFLite interpreter.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from engine.measure.spawning import spawn_pool

_SESSIONS: dict[tuple, Any] = {}


def _init(threads: int, shared: bool) -> None:
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort  # every process times against the ONNX Runtime reference: imported at start

    if shared:
        ort.set_global_thread_pool_sizes(threads, 1)


def _ort_session(path: str, threads: int, shared: bool, opt_level: str):  # noqa: ANN202
    key = ("ort", path, threads, shared, opt_level)
    if key not in _SESSIONS:
        import onnxruntime as ort

        from engine.measure.runners import ORT_LEVELS, ort_options

        if shared:
            options = ort.SessionOptions()
            options.use_per_session_threads = False
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[opt_level])
        else:
            options = spin_within_runs(ort_options(threads, opt_level))
        _SESSIONS[key] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return _SESSIONS[key]


def _call(path: str, runtime: str, threads: int, shared: bool, opt_level: str, batch: int):  # noqa: ANN202
    from engine.measure.compare import _feeds

    if runtime == "onnxruntime":
        session = _ort_session(path, threads, shared, opt_level)
        feeds = _feeds(session, batch, None)
        return lambda: session.run(None, feeds), feeds
    from engine.artifact import Artifact
    from engine.measure.runners import open_session

    key = ("tflite", path, threads)
    if key not in _SESSIONS:
        _SESSIONS[key] = open_session(Artifact(__import__("pathlib").Path(path), "tflite"), "tflite", threads)
    return _SESSIONS[key], None


def _ab(reference: str, candidate: str, runtime: str, batch: int, threads: int, shared: bool, opt_level: str,
        budget_s: float, min_pairs: int) -> dict[str, Any]:
    ref_call, feeds = _call(reference, "onnxruntime", threads, shared, opt_level, batch)
    if runtime == "onnxruntime":
        cand_call, _ = _call(candidate, runtime, threads, shared, opt_level, batch)
    else:
        cand_call = _call(candidate, runtime, threads, shared, opt_level, batch)[0].prepare(
            {k: v for k, v in feeds.items()})
    return _interleave(ref_call, cand_call, budget_s, min_pairs)


def spin_within_runs(options):  # noqa: ANN001, ANN201
    """Threads spin while a run needs them (as a deployed session's do) and park when it returns, so an
    idle pool steals no core from the other side of the A/B. A pool that never spins would make the
    reference slower than it is deployed, and every candidate of another runtime look faster."""
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


def _ab_settings(path: str, batch: int, threads: int, mode: str, opt_level: str, budget_s: float,
                 min_pairs: int) -> dict[str, Any]:
    """One model under other session settings (B) against its default ones (A: sequential, opt level all).
    Each session has its own pool (execution modes differ in their pools, so no shared one), parked
    between runs."""
    import onnxruntime as ort

    from engine.measure.compare import _feeds
    from engine.measure.runners import ort_options

    a = ort.InferenceSession(path, spin_within_runs(ort_options(threads, "all", "sequential")),
                             providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(path, spin_within_runs(ort_options(threads, opt_level, mode)),
                             providers=["CPUExecutionProvider"])
    feeds = _feeds(a, batch, None)
    return _interleave(lambda: a.run(None, feeds), lambda: b.run(None, feeds), budget_s, min_pairs)


def _interleave(ref_call, cand_call, budget_s: float, min_pairs: int) -> dict[str, Any]:  # noqa: ANN001
    from engine.measure.stats import median_ci, ratio_ci, rel_half_width

    for _ in range(5):
        ref_call()
        cand_call()
    clock = time.perf_counter_ns
    ta: list[float] = []
    tb: list[float] = []
    started = clock()
    deadline = started + int(budget_s * 1e9)
    settled = started + int(min(0.3, budget_s / 2) * 1e9)
    stopped_by = "max_runs"
    while len(ta) < 200_000:
        order = ((ref_call, ta), (cand_call, tb)) if len(ta) % 2 == 0 else ((cand_call, tb), (ref_call, ta))
        for call, out in order:
            t0 = clock()
            call()
            out.append((clock() - t0) / 1e6)
        n = len(ta)
        now = clock()
        if n >= min_pairs and now > deadline:
            stopped_by = "budget"
            break
        if n >= min_pairs and now > settled and n % 50 == 0 and rel_half_width(ta) < 0.01 and rel_half_width(tb) < 0.01:
            stopped_by = "ci"
            break
    ratio, lo, hi = ratio_ci(ta, tb)
    return {"reference_p50_ms": float(np.median(ta)), "p50_ms": float(np.median(tb)),
            "ci95_ms": list(median_ci(tb)), "ratio": ratio, "ratio_ci95": [lo, hi], "pairs": len(ta),
            "reference_samples": ta, "samples": tb, "stopped_by": stopped_by}


# Enough rounds for a tight CI on the tiniest model; more would only slow the bootstrap of every pair.
MAX_ROUNDS = 5000


def _prepared(path: str, runtime: str, threads: int, opt_level: str, batch: int, feeds):  # noqa: ANN001, ANN202
    """A no-argument call running ``path`` on ``runtime``, for a process of sessions with pools of their own."""
    if runtime == "onnxruntime":
        return _call(path, runtime, threads, False, opt_level, batch)[0]
    return _call(path, runtime, threads, False, opt_level, batch)[0].prepare(dict(feeds))


def _round_robin(reference: str, candidates: list[tuple[str, str]], batch: int, threads: int, opt_level: str,
                 budget_s: float, min_rounds: int) -> dict[str, Any]:
    """The reference and every candidate in one loop, so every pair of them is interleaved and shares the
    machine's drift: ratios to the reference AND between candidates come from the same rounds. Each round
    runs them in a fresh random order: a fixed rotation (R A B C, A B C R, …) puts the same model after a
    heavy one in most rounds, and that one then pays for the caches the heavy one evicted (measured: an
    exact copy of the digits CNN timed 0.87× the parent behind a 24 MB MatMul chain). Sessions have pools of
    their own, parked between runs, as each is deployed alone."""
    from engine.measure.stats import median_ci, ratio_ci, rel_half_width

    ref_call, feeds = _call(reference, "onnxruntime", threads, False, opt_level, batch)
    calls = [ref_call] + [_prepared(p, rt, threads, opt_level, batch, feeds) for p, rt in candidates]
    for _ in range(5):
        for call in calls:
            call()
    clock = time.perf_counter_ns
    samples: list[list[float]] = [[] for _ in calls]
    started = clock()
    deadline, settled = started + int(budget_s * 1e9), started + int(min(0.3, budget_s / 2) * 1e9)
    n, rng = len(calls), np.random.default_rng(0)
    rounds, stopped_by = 0, "max_runs"
    while rounds < MAX_ROUNDS:
        for i in rng.permutation(n):
            t0 = clock()
            calls[i]()
            samples[i].append((clock() - t0) / 1e6)
        rounds += 1
        now = clock()
        if rounds >= min_rounds and now > deadline:
            stopped_by = "budget"
            break
        if rounds >= min_rounds and now > settled and rounds % 50 == 0 and all(rel_half_width(s) < 0.01
                                                                                for s in samples):
            stopped_by = "ci"
            break
    out = []
    for s in samples[1:]:
        ratio, lo, hi = ratio_ci(samples[0], s)
        out.append({"p50_ms": float(np.median(s)), "ci95_ms": list(median_ci(s)), "ratio": ratio,
                    "ratio_ci95": [lo, hi], "samples": s})
    pairs = {}
    for i in range(1, n):
        for j in range(1, n):
            if i != j:
                r, lo, hi = ratio_ci(samples[i], samples[j])
                pairs[f"{i - 1},{j - 1}"] = [r, lo, hi]  # candidate j's latency over candidate i's
    return {"reference_p50_ms": float(np.median(samples[0])), "reference_ci95_ms": list(median_ci(samples[0])),
            "candidates": out, "pairs": pairs, "rounds": rounds, "reference_samples": samples[0],
            "stopped_by": stopped_by}


class Timer:
    """Long-lived timing processes, one for ONNX Runtime candidates and one for TFLite ones."""

    def __init__(self, reference: str, batch: int, threads: int, opt_level: str = "all") -> None:
        self.reference, self.batch, self.threads, self.opt_level = reference, batch, threads, opt_level
        self._pools: dict[str, Any] = {}

    def start(self, *kinds: str) -> None:
        """Start these timing processes now ("onnxruntime", "tflite", "final", "settings"), so their start-up
        overlaps the caller's work (the reference's conversion) instead of delaying the first timing."""
        for kind in kinds:
            self._pool(kind)

    def _pool(self, runtime: str):  # noqa: ANN202
        shared = runtime == "onnxruntime"  # "settings", "final": sessions with pools of their own
        if runtime not in self._pools:
            self._pools[runtime] = spawn_pool(1, initializer=_init, initargs=(self.threads, shared))
        return self._pools[runtime], shared

    def ab(self, candidate: str, runtime: str, budget_s: float, min_pairs: int = 30,
           final: bool = False) -> dict[str, Any]:
        """Candidate vs reference, interleaved: p50s, ratio (candidate/reference) and its 95% CI, and the raw
        per-run latencies of both sides (``samples``, ``reference_samples``) the search stores as benchmarks.
        ``final``: in the process where every runtime meets the same reference (sessions with pools of their
        own, parked between runs), so the finalists' ratios compare across runtimes."""
        pool, shared = self._pool("final" if final else runtime)
        return pool.apply(_ab, (self.reference, candidate, runtime, self.batch, self.threads, shared,
                                self.opt_level, budget_s, min_pairs))

    def round_robin(self, candidates: list[tuple[str, str]], budget_s: float, min_rounds: int = 100) -> dict[str, Any]:
        """The reference and ``candidates`` ((path, runtime) each) timed in one rotating loop: per candidate its
        p50, ratio to the reference and raw per-run ``samples``, and ``pairs["i,j"]`` = candidate j's latency over
        candidate i's, CI'd."""
        pool, _ = self._pool("final")
        return pool.apply(_round_robin, (self.reference, candidates, self.batch, self.threads, self.opt_level,
                                         budget_s, min_rounds))

    def settings_ab(self, candidate: str, mode: str, opt_level: str, budget_s: float,
                    min_pairs: int = 30) -> dict[str, Any]:
        """``candidate`` under ``mode``/``opt_level`` against itself under sequential/all, interleaved."""
        pool, _ = self._pool("settings")
        return pool.apply(_ab_settings, (candidate, self.batch, self.threads, mode, opt_level, budget_s, min_pairs))

    def close(self) -> None:
        for pool in self._pools.values():
            pool.terminate()
        self._pools.clear()
