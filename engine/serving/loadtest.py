"""A closed-loop load test over real HTTP: at each concurrency level N clients each send a request, wait
for the answer, and send the next, until the level's request or time bound. The curve is throughput
against latency percentiles; the answer is the highest throughput whose p99 stays within a budget."""
from __future__ import annotations

import threading
import time
import urllib.parse
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel, Field, field_validator

from engine.serving.client import Connection, encode_infer, infer_path, sample_input


class LoadtestConfig(BaseModel):
    concurrency: list[int] = Field(default_factory=lambda: [1, 2, 4, 8], description="Client counts to sweep.")
    requests_per_level: int = Field(200, ge=1, le=100_000, description="Requests sent at each level, at most.")
    seconds_per_level: float = Field(10.0, gt=0, le=600, description="Time spent at each level, at most.")
    p99_budget_ms: float = Field(100.0, gt=0, description="The p99 latency the best level must stay within.")
    batch: int = Field(1, ge=1, le=1024, description="Rows per request.")

    @field_validator("concurrency")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not value or any(c < 1 or c > 256 for c in value):
            raise ValueError("concurrency levels must be between 1 and 256")
        return sorted(set(value))


Progress = Callable[[float, str], None]


def _level(url: str, path: str, body: bytes, headers: dict[str, str], clients: int, config: LoadtestConfig,
           token: str | None, tick: Callable[[float], None] | None = None) -> dict[str, Any]:
    remaining = [config.requests_per_level]
    lock, latencies, failures = threading.Lock(), [[] for _ in range(clients)], [0] * clients
    deadline = time.perf_counter() + config.seconds_per_level

    def client(i: int) -> None:
        conn = Connection(url, token)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                t0 = time.perf_counter()
                try:
                    status, _, _ = conn.request("POST", path, body, headers)
                except OSError:
                    status = 0
                    conn = Connection(url, token)
                if status == 200:
                    latencies[i].append((time.perf_counter() - t0) * 1000)
                else:
                    failures[i] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
            if tick is not None:  # the share of the level's bound (requests or time) already spent
                spent = 1 - remaining[0] / config.requests_per_level
                tick(min(1.0, max(spent, (time.perf_counter() - start) / config.seconds_per_level)))
    wall = time.perf_counter() - start
    pooled = np.concatenate([np.asarray(x) for x in latencies]) if any(latencies) else np.zeros(0)
    lat = ({"p50": float(np.percentile(pooled, 50)), "p90": float(np.percentile(pooled, 90)),
            "p99": float(np.percentile(pooled, 99)), "mean": float(pooled.mean()), "std": float(pooled.std())}
           if pooled.size else {})
    return {"concurrency": clients, "requests": int(pooled.size), "failures": int(sum(failures)),
            "wall_s": round(wall, 3), "throughput_per_s": pooled.size * config.batch / wall if wall else 0.0,
            "latency_ms": lat, "batch": config.batch, "samples_ms": pooled.round(3).tolist()}


def sweep(url: str, name: str, config: LoadtestConfig, version: int | None = None,
          token: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Run every level in turn, reporting ``progress(fraction, message)`` as it goes; raises InputError
    when the server or model cannot be reached."""
    conn = Connection(url, token)
    try:
        meta = conn.json("GET", f"/v2/models/{urllib.parse.quote(name)}" + (f"/versions/{version}" if version else ""))
        stats = conn.json("GET", f"/v2/models/{urllib.parse.quote(name)}/stats")
    finally:
        conn.close()
    served = {v["version"]: v for v in stats["versions"]}
    answering = served[int(version)] if version else served[max(served)]
    body, headers = encode_infer(sample_input(meta, batch=config.batch))
    path = infer_path(name, version)
    curve, levels = [], len(config.concurrency)
    for i, clients in enumerate(config.concurrency):
        def tick(share: float, i: int = i, clients: int = clients) -> None:
            if progress is not None:
                progress((i + share) / levels, f"{clients} client(s): level {i + 1} of {levels}")
        tick(0.0)
        curve.append(_level(url, path, body, headers, clients, config, token, tick))
    within = [r for r in curve if r["latency_ms"].get("p99", float("inf")) <= config.p99_budget_ms]
    best = max(within, key=lambda r: r["throughput_per_s"]) if within else None
    samples = {f"c{r['concurrency']}": r.pop("samples_ms") for r in curve}
    threads = answering.get("settings", {}).get("intra_threads")
    results = [{**r, "threads": threads} for r in curve]
    return {"model_id": answering["model_id"], "name": name, "version": answering["version"], "url": url,
            "config": config.model_dump(), "results": results,
            "best": None if best is None else {"concurrency": best["concurrency"],
                                               "throughput_per_s": best["throughput_per_s"],
                                               "p99_ms": best["latency_ms"]["p99"]},
            "failures": sum(r["failures"] for r in curve), "runtime": "server-http", "samples": samples}
