"""A loaded model version: a pool of instances, an optional dynamic batcher, and the response cache.

Without batching each request takes a free instance. With batching (Triton's scheduler, in small):
the first queued request waits until an instance is free, then for at most ``max_queue_delay_ms``
for others, and the rows gathered (up to ``max_batch``, dispatched at once on reaching the largest
preferred size) run as one batch whose outputs are split back to their requests.

A request alone in the server, on a version without batching whose fastest of its last ``RECENT_RUNS`` runs
took under ``INLINE_MAX_S`` (the model's own speed: one run slowed by the machine's other work does not send
the next request through the pool), runs on the event loop's own thread: handing it to a pool thread and back costs two thread wake-ups
(0.2-0.4 ms per request, measured with a do-nothing model on a busy 2-core machine). Anything else (a
second request in flight anywhere in the server, a slower model, no free instance) goes to the pool's
threads, so the loop is never held longer than that bound and concurrent requests still overlap. The
inference routes count the requests they are answering in ``REQUESTS``; before choosing, a request lets
the loop run the others it has already read, so they are counted.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.artifact import Artifact
from engine.serving.cache import ResponseCache, input_key
from engine.serving.metrics import ServingMetrics
from engine.serving.runtimes import Instance, check_feeds, has_batch_dim, open_instance
from engine.serving.settings import ModelSettings

INLINE_MAX_S = 0.02
RECENT_RUNS = 8


class InFlight:
    """Inference requests being answered in this process, from the moment a route takes one until its
    response is sent (``with REQUESTS:``); servers on several threads (the tests') share it."""

    def __init__(self) -> None:
        self.value, self._lock = 0, threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.value += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.value -= 1


REQUESTS = InFlight()


@dataclass
class _Pending:
    feeds: dict[str, np.ndarray]
    rows: int
    signature: tuple
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


class LoadedVersion:
    """Load with ``LoadedVersion.load`` (blocking: call it off the event loop); serve with ``infer``."""

    def __init__(self, name: str, version: int, model_id: int, settings: ModelSettings, instances: list[Instance],
                 metrics: ServingMetrics, cache: ResponseCache | None) -> None:
        self.name, self.version, self.model_id, self.settings = name, version, model_id, settings
        self.inputs, self.outputs = instances[0].inputs, instances[0].outputs
        self.platform, self.provider, self.note = instances[0].platform, instances[0].provider, instances[0].note
        self.metrics, self.cache = metrics, cache
        self._free: queue.SimpleQueue[Instance] = queue.SimpleQueue()
        for inst in instances:
            self._free.put(inst)
        self._executor = ThreadPoolExecutor(len(instances), thread_name_prefix=f"{name}-v{version}")
        self.batching = settings.batching.enabled and has_batch_dim(self.inputs)
        self._pending: deque[_Pending] = deque()
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._scheduler: asyncio.Task | None = None
        self.inflight = 0
        self._recent_runs: deque[float] = deque(maxlen=RECENT_RUNS)
        self._fastest_run_s = float("inf")  # of the recent runs
        labels = {"model": name, "version": str(version)}
        self._queue_time, self._batch_rows = metrics.queue.labels(**labels), metrics.batch.labels(**labels)
        # The children every request updates, looked up once (a labels() lookup costs microseconds per call).
        self.counted = (metrics.requests.labels(**labels), metrics.latency.labels(**labels),
                        metrics.inflight.labels(name))

    @classmethod
    def load(cls, name: str, version: int, model_id: int, artifact: Artifact, settings: ModelSettings,
             metrics: ServingMetrics, cache: ResponseCache | None) -> "LoadedVersion":
        instances = [open_instance(artifact, settings) for _ in range(settings.instances)]
        loaded = cls(name, version, model_id, settings, instances, metrics, cache)
        loaded._warm()
        return loaded

    def _warm(self) -> None:
        from engine.fidelity import sample_feeds

        feeds = sample_feeds(self.inputs, n=1, seed=0)
        for _ in range(self.settings.instances):
            self._run_on_instance(feeds)

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "model_id": self.model_id, "platform": self.platform,
                "provider": self.provider, "note": self.note, "batching": self.batching,
                "inputs": self.inputs, "outputs": self.outputs,
                "settings": self.settings.model_dump()}

    # ---------------------------------------------------------------- serving
    async def infer(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs for ``feeds``; ValueError (a sentence for the client) when they do not fit the model."""
        check_feeds(self.inputs, feeds)
        self.inflight += 1
        try:
            key = None
            if self.cache is not None:
                key = input_key(self.name, self.version, feeds)
                hit = self.cache.get(key, feeds)
                if hit is not None:
                    self.metrics.cache_hits.labels(self.name).inc()
                    return hit
                self.metrics.cache_misses.labels(self.name).inc()
            if self.batching:
                outputs = await self._enqueue(feeds)
            elif (instance := await self._inline_instance()) is not None:
                outputs = self._run_single(feeds, time.perf_counter(), instance)
            else:
                outputs = await asyncio.get_running_loop().run_in_executor(self._executor, self._run_single, feeds,
                                                                           time.perf_counter())
            if key is not None:
                self.cache.put(key, feeds, outputs)
                self.metrics.cache_entries.labels(self.name).set(len(self.cache))
                self.metrics.cache_bytes.labels(self.name).set(self.cache.bytes)
            return outputs
        finally:
            self.inflight -= 1

    async def _inline_instance(self) -> Instance | None:
        """A free instance when this request may run on the event loop's thread (see the module's note)."""
        if self._fastest_run_s >= INLINE_MAX_S:
            return None
        await asyncio.sleep(0)  # requests read in the same turn of the loop enter REQUESTS first
        if REQUESTS.value > 1:
            return None
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return None

    def _run_on_instance(self, feeds: dict[str, np.ndarray], instance: Instance | None = None) -> list[np.ndarray]:
        instance = instance or self._free.get()
        try:
            started = time.perf_counter()
            outputs = [np.asarray(o) for o in instance.run(feeds)]
            self._recent_runs.append(time.perf_counter() - started)
            self._fastest_run_s = min(self._recent_runs)
            return outputs
        finally:
            self._free.put(instance)

    def _run_single(self, feeds: dict[str, np.ndarray], queued_at: float,
                    instance: Instance | None = None) -> list[np.ndarray]:
        self._queue_time.observe(time.perf_counter() - queued_at)
        first = next(iter(feeds.values()), None)
        self._batch_rows.observe(first.shape[0] if first is not None and first.ndim else 1)
        return self._run_on_instance(feeds, instance)

    # ---------------------------------------------------------------- dynamic batching
    async def _enqueue(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._scheduler is None:
            self._wake, self._slots = asyncio.Event(), asyncio.Semaphore(self.settings.instances)
            self._scheduler = asyncio.get_running_loop().create_task(self._schedule())
        first = next(iter(feeds.values()))
        signature = tuple((k, v.dtype.str, v.shape[1:]) for k, v in sorted(feeds.items()))
        item = _Pending(feeds, int(first.shape[0]), signature, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        self._wake.set()
        return await item.future

    async def _schedule(self) -> None:
        cfg = self.settings.batching
        target = max(cfg.preferred_sizes) if cfg.preferred_sizes else cfg.max_batch
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            await self._slots.acquire()
            deadline = self._pending[0].queued_at + cfg.max_queue_delay_ms / 1000
            while self._rows_ready() < target:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            batch = self._take(cfg.max_batch)
            asyncio.get_running_loop().create_task(self._dispatch(batch))

    def _rows_ready(self) -> int:
        head, rows = self._pending[0].signature, 0
        for item in self._pending:
            if item.signature != head:
                break
            rows += item.rows
        return rows

    def _take(self, max_batch: int) -> list[_Pending]:
        batch = [self._pending.popleft()]
        rows = batch[0].rows
        while self._pending and self._pending[0].signature == batch[0].signature \
                and rows + self._pending[0].rows <= max_batch:
            item = self._pending.popleft()
            batch.append(item)
            rows += item.rows
        return batch

    async def _dispatch(self, batch: list[_Pending]) -> None:
        try:
            started = time.perf_counter()
            for item in batch:
                self._queue_time.observe(started - item.queued_at)
            self._batch_rows.observe(sum(i.rows for i in batch))
            loop = asyncio.get_running_loop()
            try:
                outputs = await loop.run_in_executor(self._executor, self._run_batch, [i.feeds for i in batch])
            except Exception as exc:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                return
            start = 0
            for item in batch:
                if not item.future.done():
                    item.future.set_result([o[start:start + item.rows] for o in outputs])
                start += item.rows
        finally:
            self._slots.release()

    def _run_batch(self, feeds_list: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        if len(feeds_list) == 1:
            return self._run_on_instance(feeds_list[0])
        merged = {k: np.concatenate([f[k] for f in feeds_list]) for k in feeds_list[0]}
        return self._run_on_instance(merged)

    # ---------------------------------------------------------------- retiring
    async def retire(self, grace_s: float = 30.0) -> None:
        """Wait for requests already routed here to finish, then free the instances."""
        deadline = time.perf_counter() + grace_s
        while (self.inflight or self._pending) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        if self._scheduler is not None:
            self._scheduler.cancel()
        self._executor.shutdown(wait=False)
