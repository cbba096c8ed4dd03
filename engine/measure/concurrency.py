"""Throughput and tail latency under load: N client threads on one shared session, or one session each.

The shared session keeps the grid's first thread count; sessions per client get
``max(1, threads // clients)`` intra-op threads each so N pools do not oversubscribe the cores.
Runtimes whose prepared call is not thread-safe (TFLite's interpreter, Keras ``predict``) are measured
with a session per client only.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from engine.artifact import Artifact
from engine.measure.runners import open_session
from engine.measure.stats import summarize


def _drive(calls: list, seconds: float) -> dict[str, Any]:
    """Run each call in its own thread in a loop for ``seconds``; pooled latencies and total throughput."""
    latencies: list[list[float]] = [[] for _ in calls]
    start_gate = threading.Barrier(len(calls) + 1)
    stop = threading.Event()

    def client(i: int) -> None:
        call, mine = calls[i], latencies[i]
        start_gate.wait()
        while not stop.is_set():
            t0 = time.perf_counter_ns()
            call()
            mine.append((time.perf_counter_ns() - t0) / 1e6)

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(calls))]
    for w in workers:
        w.start()
    start_gate.wait()
    begin = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    wall = time.perf_counter() - begin
    pooled = np.concatenate([np.asarray(x) for x in latencies if x]) if any(latencies) else np.asarray([0.0])
    return {"runs": int(pooled.size), "wall_s": wall, "latency_ms": summarize(pooled),
            "per_client_runs": [len(x) for x in latencies]}


def load_test(artifact: Artifact, runtime: str, feeds: dict, config: Any) -> dict[str, Any]:
    """``config.concurrency`` clients for ``config.time_budget_s`` each way, after ``config.warmup`` calls."""
    clients, threads = config.concurrency, config.threads[0]
    opt, mode = config.opt_levels[0], config.execution_modes[0]
    batch = len(next(iter(feeds.values())))
    result: dict[str, Any] = {"clients": clients, "batch": batch}

    shared = open_session(artifact, runtime, threads, opt, mode)
    if shared.thread_safe:
        call = shared.prepare(feeds)
        for _ in range(config.warmup):
            call()
        run = _drive([call] * clients, config.time_budget_s)
        run["throughput_per_s"] = run["runs"] * batch / run["wall_s"]
        result["shared_session"] = {"intra_op_threads": threads, **run}
    else:
        result["shared_session"] = None
    shared.close()
    del shared

    # TF's pools are process-wide: its sessions cannot be sized apart
    each = threads if runtime in ("tensorflow", "keras-predict") else max(1, threads // clients)
    sessions = [open_session(artifact, runtime, each, opt, mode) for _ in range(clients)]
    calls = [s.prepare(feeds) for s in sessions]
    for call in calls:
        for _ in range(config.warmup):
            call()
    run = _drive(calls, config.time_budget_s)
    run["throughput_per_s"] = run["runs"] * batch / run["wall_s"]
    result["session_per_client"] = {"intra_op_threads": each, **run}
    for s in sessions:
        s.close()
    return result
