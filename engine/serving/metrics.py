"""Prometheus metrics of one server (its own registry, so several servers can live in one process)."""
from __future__ import annotations

import os
from typing import Iterator

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class _Process:
    """CPU % (since the previous scrape) and resident memory of this server process, read with psutil."""

    def __init__(self) -> None:
        self._proc = psutil.Process(os.getpid())
        self._proc.cpu_percent(None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("trimline_process_cpu_percent", "CPU use of the server process since the last "
                                "scrape (100 = one core).", value=self._proc.cpu_percent(None))
        yield GaugeMetricFamily("trimline_process_rss_bytes", "Resident memory of the server process.",
                                value=self._proc.memory_info().rss)


class ServingMetrics:
    def __init__(self, memory_mb: int | None = None) -> None:
        r = self.registry = CollectorRegistry()
        mv = ["model", "version"]
        self.requests = Counter("trimline_requests", "Inference requests answered.", mv, registry=r)
        self.failures = Counter("trimline_request_failures", "Inference requests that failed.", mv + ["reason"],
                                registry=r)
        self.latency = Histogram("trimline_request_latency_seconds", "Time from request to response.", mv,
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue = Histogram("trimline_queue_seconds", "Time a request waited for an instance or a batch.", mv,
                               buckets=LATENCY_BUCKETS, registry=r)
        self.batch = Histogram("trimline_batch_size", "Rows per executed batch.", mv, buckets=BATCH_BUCKETS,
                               registry=r)
        self.cache_hits = Counter("trimline_cache_hits", "Responses served from the cache.", ["model"], registry=r)
        self.cache_misses = Counter("trimline_cache_misses", "Cache lookups that missed.", ["model"], registry=r)
        self.cache_entries = Gauge("trimline_cache_entries", "Responses held in the cache.", ["model"], registry=r)
        self.cache_bytes = Gauge("trimline_cache_bytes", "Bytes held in the cache.", ["model"], registry=r)
        self.inflight = Gauge("trimline_inflight_requests", "Inference requests being answered now.", ["model"],
                              registry=r)
        self.rejected = Counter("trimline_requests_rejected", "Inference requests refused unread (503): the "
                                "server was answering its limit of requests at once.", registry=r)
        r.register(_Process())
        if memory_mb:
            Gauge("trimline_process_memory_limit_bytes", "The server's memory limit (--memory-mb).",
                  registry=r).set(memory_mb << 20)

    def render(self) -> bytes:
        return generate_latest(self.registry)
