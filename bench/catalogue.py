"""Build a large catalogue for timing the dashboard: one family of N variants and M measurements.

The seed is real: a tiny ONNX model (the tests' own, ``tests/app/conftest.py``) is imported, benchmarked and
evaluated through the job runner, then its model row, benchmark and evaluation are copied (with jittered
figures) into a lineage tree of ``variants`` nodes and ``measurements`` rows, and one job row per derived
variant. The benchmark script and the page tests at scale both build with ``build``.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from tests.app.conftest import write_tiny_onnx


def _seed(folder: Path) -> tuple[int, int]:
    """Import, benchmark and evaluate the tiny model for real; returns (model id, dataset id)."""
    from engine import api
    from engine.jobs import service

    model_id = service.wait(api.submit_import(write_tiny_onnx(folder / "tiny.onnx"), name="tiny").id).result["model_id"]
    rng = np.random.default_rng(1)
    x = rng.random((64, 4), dtype=np.float32)
    np.savez(folder / "eval.npz", x=x, y=(x @ np.ones((4, 3), np.float32)).argmax(1))
    dataset_id = service.wait(api.submit_dataset_import(folder / "eval.npz", name="held-out").id).result["dataset_id"]
    for job in (api.submit_benchmark(model_id, {"batches": [1], "threads": [1], "time_budget_s": 0.3}),
                api.submit_evaluate(model_id, dataset_id)):
        done = service.wait(job.id)
        if done.status != "succeeded":
            raise SystemExit(f"seeding failed: {done.error}")
    return model_id, dataset_id


def _jitter(summary: dict[str, Any], rnd: random.Random, kind: str) -> dict[str, Any]:
    out = dict(summary)
    if kind == "benchmark":
        f = rnd.uniform(0.5, 1.6)
        out["results"] = [{**r, "latency_ms": {k: (v * f if isinstance(v, float) else v)
                                               for k, v in (r.get("latency_ms") or {}).items()}}
                          for r in summary.get("results") or []]
    else:
        metrics = dict(summary.get("metrics") or {})
        if isinstance(metrics.get("accuracy"), float):
            metrics["accuracy"] = max(0.0, min(1.0, metrics["accuracy"] - rnd.uniform(0, 0.05)))
        out["metrics"] = metrics
    return out


def build(home: Path, variants: int = 1000, measurements: int = 100_000, fanout: int = 10) -> dict[str, Any]:
    """Fill ``home`` (TRIMLINE_HOME, already set in the environment) and return what was made."""
    from sqlalchemy import insert, select

    from engine import api
    from storage.db import session_scope
    from storage.tables import Job, Measurement, Model

    api.ready()
    root_id, dataset_id = _seed(home)
    rnd = random.Random(0)
    with session_scope() as s:
        root = s.get(Model, root_id)
        seeds = {m.kind: m for m in s.scalars(select(Measurement).where(Measurement.model_id == root_id))}
        base = {c: getattr(root, c) for c in ("format", "sha256", "artifact", "params", "flops", "inputs", "outputs",
                                              "info", "metrics")}
        next_id = (s.scalar(select(Model.id).order_by(Model.id.desc()).limit(1)) or 0) + 1
        passes = ["onnx-optimize", "ort-quantize-dynamic", "ort-quantize-static", "fp16"]
        rows, parents = [], [root_id]
        for i in range(variants - 1):
            mid = next_id + i
            parent = parents[i // fanout]
            p = passes[i % len(passes)]
            rows.append({**base, "id": mid, "name": f"tiny-{p}-{i}", "parent_id": parent, "root_id": root_id,
                         "pass_name": p, "config": {"variant": i}, "derivation_key": f"bench-{root_id}-{i}",
                         "size_bytes": int(root.size_bytes * rnd.uniform(0.3, 1.1)), "created_at": root.created_at})
            parents.append(mid)
        s.execute(insert(Model), rows)
        ids = [root_id] + [r["id"] for r in rows]
        s.execute(insert(Job), [{"kind": "optimize", "status": "succeeded", "progress": 1.0, "message": "done",
                                 "params": {"model_id": r["parent_id"], "pass": r["pass_name"]},
                                 "result": {"model_id": r["id"]}} for r in rows])
        batch: list[dict[str, Any]] = []
        for n in range(measurements - len(seeds)):
            kind = "benchmark" if (n // len(ids)) % 2 == 0 else "evaluate"  # every model gets both kinds
            seed = seeds[kind]
            batch.append({"model_id": ids[n % len(ids)], "hardware_id": seed.hardware_id, "kind": kind,
                          "dataset_id": seed.dataset_id, "runtime": seed.runtime,
                          "summary": _jitter(seed.summary, rnd, kind), "samples": {}})
            if len(batch) == 5000:
                s.execute(insert(Measurement), batch)
                batch = []
        if batch:
            s.execute(insert(Measurement), batch)
    return {"root_id": root_id, "dataset_id": dataset_id, "variants": variants, "measurements": measurements}
