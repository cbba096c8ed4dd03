"""One reading of a server's /metrics, reduced to the numbers the Deploy page charts.

Latency percentiles are estimated from the histogram buckets the way Prometheus's
``histogram_quantile`` does (linear within the bucket that holds the rank)."""
from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any


def _quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """``buckets``: (upper bound, cumulative count) sorted by bound; None when empty."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 0.0)
        lower, below = bound, count
    return lower


def reduce(samples: list[tuple[str, dict[str, str], float]], at: float | None = None) -> dict[str, Any]:
    """``{at, requests, failures, latency_ms{p50,p90,p99}, batch_mean, batch_hist, cache_hits, cache_misses,
    hit_rate, inflight, cpu_percent, rss_mb, memory_limit_mb (None: no limit), versions{v: requests}}`` summed
    over all served models."""
    totals: dict[str, float] = defaultdict(float)
    latency: dict[float, float] = defaultdict(float)
    batch: dict[float, float] = defaultdict(float)
    versions: dict[str, float] = defaultdict(float)
    for name, labels, value in samples:
        if name == "trimline_request_latency_seconds_bucket":
            latency[float(labels["le"])] += value
        elif name == "trimline_batch_size_bucket":
            batch[float(labels["le"])] += value
        elif name == "trimline_requests_total":
            versions[f"{labels['model']} v{labels['version']}"] += value
            totals["requests"] += value
        elif name in ("trimline_request_failures_total", "trimline_cache_hits_total", "trimline_cache_misses_total",
                      "trimline_inflight_requests", "trimline_batch_size_sum", "trimline_batch_size_count",
                      "trimline_process_cpu_percent", "trimline_process_rss_bytes",
                      "trimline_process_memory_limit_bytes"):
            totals[name] += value
    lat = sorted(latency.items())
    hits, misses = totals["trimline_cache_hits_total"], totals["trimline_cache_misses_total"]
    count = totals["trimline_batch_size_count"]
    return {"at": at if at is not None else time.time(), "requests": totals["requests"],
            "failures": totals["trimline_request_failures_total"],
            "latency_ms": {f"p{int(q * 100)}": (None if (v := _quantile(lat, q)) is None else v * 1000)
                           for q in (0.5, 0.9, 0.99)},
            "batch_mean": totals["trimline_batch_size_sum"] / count if count else None,
            "batch_hist": _counts(sorted(batch.items())), "cache_hits": hits, "cache_misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else None,
            "inflight": totals["trimline_inflight_requests"], "cpu_percent": totals["trimline_process_cpu_percent"],
            "rss_mb": totals["trimline_process_rss_bytes"] / 2**20,
            "memory_limit_mb": totals["trimline_process_memory_limit_bytes"] / 2**20 or None,
            "versions": dict(versions)}


def _counts(cumulative: list[tuple[float, float]]) -> dict[str, float]:
    """Per-bucket counts (not cumulative) keyed by the bucket's upper bound."""
    out, below = {}, 0.0
    for bound, count in cumulative:
        if not math.isinf(bound):
            out[str(int(bound))] = count - below
        below = count
    return out


def throughput(history: list[dict[str, Any]]) -> list[float | None]:
    """Requests per second between consecutive readings."""
    out: list[float | None] = [None]
    for before, after in zip(history, history[1:]):
        dt = after["at"] - before["at"]
        out.append((after["requests"] - before["requests"]) / dt if dt > 0 else None)
    return out
