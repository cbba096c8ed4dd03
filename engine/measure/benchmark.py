"""Latency, throughput and memory of one model over a grid of batch × threads × ORT settings.

Each cell runs warm-up calls, then timed calls until the median's 95% CI is tight enough
(``target_rel_ci``), its time budget is spent (after ``min_runs``), or ``max_runs``. The CI rule may
stop a cell only after ``min_runs`` and ``min_time_s`` of timed work: on a tiny model (0.02 ms a call)
20 runs are half a millisecond of the process's first, slower calls, and their tight-looking CI put
one at twice its steady-state latency. Every ORT
(threads, opt level, mode) cell gets its own session, released before the next is built so no idle
pool spins beside the one being timed. TensorFlow can size its thread pools only once per process,
so each further TF thread count is measured in a fresh child process.

Memory: ``peak_rss_mb`` is this process's high-water mark during the cell (Linux's VmHWM, reset per
cell), ``rss_increase_mb`` its rise over the RSS before the session was built — the model's own cost.
Cells run in-process on purpose: the job layer already gives each benchmark its own child process,
and a fresh process per cell would time cold caches. ``other_load`` is the CPU share other processes
used during the cell; above 10% the result carries a warning.
"""
from __future__ import annotations

import gc
import gzip
import itertools
import os
import time
from pathlib import Path
from typing import Any, Callable

from engine.artifact import Artifact
from engine.measure import memory
from engine.measure.config import BenchmarkConfig, validate_for_model
from engine.measure.inputs import make_feeds
from engine.measure.load import NOISY, LoadMeter
from engine.measure.runners import open_session, preload, set_tf_threads
from engine.measure.spawning import spawn_pool
from engine.measure.stats import rel_half_width, summarize

Progress = Callable[[float, str], None]
__all__ = ["BenchmarkConfig", "validate_for_model", "run_benchmark", "time_call", "artifact_sizes"]


def time_call(call: Callable[[], Any], config: BenchmarkConfig) -> tuple[list[float], str]:
    """Timed latencies (ms) of ``call`` after warm-up, and why timing stopped (ci, budget, max_runs)."""
    for _ in range(config.warmup):
        call()
    gc_was_on = gc.isenabled()
    gc.disable()  # as timeit does: a collection landing inside one timed call is not the model's cost
    try:
        return _timed_loop(call, config)
    finally:
        if gc_was_on:
            gc.enable()


def _timed_loop(call: Callable[[], Any], config: BenchmarkConfig) -> tuple[list[float], str]:
    samples: list[float] = []
    clock = time.perf_counter_ns
    began = clock()
    deadline = began + int(config.time_budget_s * 1e9)
    settled = began + int(min(config.min_time_s, config.time_budget_s) * 1e9)
    check_every = 10
    while True:
        start = clock()
        call()
        end = clock()
        samples.append((end - start) / 1e6)
        n = len(samples)
        if n >= config.max_runs:
            return samples, "max_runs"
        if n >= config.min_runs:
            if end > deadline:
                return samples, "budget"
            if end >= settled and n % check_every == 0:
                check_every = max(10, n // 20)  # the check is O(n): keep its share of the loop small
                if rel_half_width(samples) < config.target_rel_ci:
                    return samples, "ci"


def artifact_sizes(path: Path) -> tuple[int, int]:
    """(bytes on disk, bytes once each file is gzipped) of a model file or folder."""
    files = [p for p in sorted(Path(path).rglob("*")) if p.is_file()] if Path(path).is_dir() else [Path(path)]
    size = sum(p.stat().st_size for p in files)
    packed = 0
    for p in files:
        with open(p, "rb") as src:
            packed += len(gzip.compress(src.read(), compresslevel=6, mtime=0))
    return size, packed


def cell_key(batch: int, threads: int, opt: str | None, mode: str | None) -> str:
    """The key a benchmark cell's samples are stored under: batch and threads, and for ONNX Runtime the
    optimisation level and execution mode (``b4-t2-all-sequential``); other runtimes give neither."""
    return f"b{batch}-t{threads}" + (f"-{opt}-{mode}" if opt else "")


def _measure_cells(artifact: Artifact, runtime: str, feeds: dict[int, dict], cells: list[tuple],
                   config: BenchmarkConfig, out: dict[str, Any], tick: Callable[[str], None]) -> None:
    is_ort = runtime == "onnxruntime"
    preload(runtime)
    for threads, opt, mode in cells:
        gc.collect()
        memory.reset_peak()
        rss_before = memory.rss_mb()
        start = time.perf_counter()
        session = open_session(artifact, runtime, threads, opt, mode)
        load_ms = (time.perf_counter() - start) * 1e3
        out.setdefault("load_time_ms", load_ms)
        for batch, feed in feeds.items():
            call = session.prepare(feed)
            if "cold_latency_ms" not in out:
                start = time.perf_counter()
                call()
                out["cold_latency_ms"] = (time.perf_counter() - start) * 1e3
            with LoadMeter() as load:
                samples, reason = time_call(call, config)
            peak = memory.peak_mb()
            key = cell_key(batch, threads, opt if is_ort else None, mode if is_ort else None)
            if load.other_load > NOISY:
                out.setdefault("warnings", []).append(
                    f"other processes (or neighbouring VMs) used {load.other_load:.0%} of the CPU while {key} "
                    "was timed; its numbers are unreliable — rerun on a quiet machine")
            summary = summarize(samples)
            out["results"].append({
                "batch": batch, "threads": threads, "opt_level": opt if is_ort else None,
                "execution_mode": mode if is_ort else None, "latency_ms": summary,
                "throughput_per_s": batch * 1e3 / summary["mean"], "peak_rss_mb": round(peak, 1),
                "rss_increase_mb": round(max(peak - rss_before, 0.0), 1), "runs": len(samples),
                "stopped_by": reason, "load_time_ms": load_ms, "other_load": round(load.other_load, 3),
                "cpu_percent": round(load.process_percent, 1)})
            out["samples"][key] = samples
            tick(f"{key}: p50 {summary['p50']:.3f} ms")
        session.close()
        del session, call


def _child(artifact: Artifact, inputs: list[dict], data: dict[str, Any]) -> dict[str, Any]:
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    return run_benchmark(artifact, inputs, BenchmarkConfig.model_validate(data))


def run_benchmark(artifact: Artifact, inputs: list[dict[str, Any]], config: BenchmarkConfig,
                  progress: Progress = lambda f, m: None) -> dict[str, Any]:
    """Measure ``artifact`` over ``config``'s grid with inputs generated from its signature ``inputs``.

    Raises InputError for a grid the model or runtime cannot take (a fixed batch, a wrong runtime),
    MeasureError when the runtime fails to load or run it.
    """
    runtime = validate_for_model(config, artifact.format, inputs)
    feeds = {b: make_feeds(inputs, b, config.dim_values) for b in config.batches}
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    size, packed = artifact_sizes(artifact.path)
    out: dict[str, Any] = {"runtime": runtime, "config": config.model_dump(mode="json"),
                           "results": [], "samples": {}, "size_bytes": size, "gzip_bytes": packed}
    cells = list(itertools.product(config.threads, config.opt_levels, config.execution_modes))
    total, done = len(cells) * len(feeds), [0]

    def tick(message: str) -> None:
        done[0] += 1
        progress(done[0] / total, message)

    for threads in config.threads:
        mine = [c for c in cells if c[0] == threads]
        if runtime in ("tensorflow", "keras-predict") and not set_tf_threads(threads):
            child_config = config.model_copy(update={"threads": [threads], "concurrency": 0, "profile": False})
            with spawn_pool(1) as pool:
                sub = pool.apply(_child, (artifact, inputs, child_config.model_dump()))
            out["results"] += sub["results"]
            out["samples"].update(sub["samples"])
            for _ in range(len(mine) * len(feeds)):
                tick(f"threads {threads} measured in a fresh process")
            continue
        _measure_cells(artifact, runtime, feeds, mine, config, out, tick)
    if config.concurrency:
        from engine.measure.concurrency import load_test

        out["concurrency"] = load_test(artifact, runtime, feeds[config.batches[0]], config)
    if config.profile:
        from engine.measure.profile import profile_onnx

        out["profile"] = profile_onnx(artifact.onnx_file, feeds[config.batches[0]], config.threads[0],
                                      config.opt_levels[0])
    return out
