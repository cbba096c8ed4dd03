"""The search's timings as benchmark measurements.

Every candidate the search timed was timed for real (interleaved with the reference), so its figures are
stored as a ``benchmark`` like a benchmark job's: Compare, Download and the Models page show them instead of
"no benchmark yet" for the model the search just recommended. Each says where it came from (``source:
auto``, the job, the reference it was interleaved with, and whether it is the finals' round-robin or the
shorter screening A/B), so a later benchmark job, which stays the latest, is never confused with it.
"""
from __future__ import annotations

from typing import Any

SCREENING, FINAL = "screening A/B", "final round-robin"
KEPT_SAMPLES = 256  # the raw runs kept with the measurement: enough for a ratio's bootstrap, small to store


def thinned(samples: list[float], keep: int = KEPT_SAMPLES) -> list[float]:
    """At most ``keep`` of the runs, evenly spaced in time order (so drift stays visible), to 0.01 µs."""
    step = max(1, -(-len(samples) // keep))
    return [round(float(x), 5) for x in samples[::step]]


def timing_record(key: str | None, samples: list[float], method: str, settings: dict[str, Any],
                  stopped_by: str, budget_s: float, ratio: float | None = None,
                  ratio_ci95: list[float] | None = None, sizes: tuple[int | None, int | None] = (None, None),
                  ) -> dict[str, Any]:
    """What the search keeps of one model's timing (in ``live.json``, so a cancelled search keeps it too): the
    latency summary of every run, computed here from the raw runs, and a thinned copy of those runs."""
    from engine.measure.stats import summarize

    return {"key": key, "method": method, "settings": dict(settings), "latency_ms": summarize(samples),
            "runs": len(samples), "stopped_by": stopped_by, "budget_s": budget_s, "ratio": ratio,
            "ratio_ci95": ratio_ci95, "size_bytes": sizes[0], "gzip_bytes": sizes[1], "samples": thinned(samples)}


def benchmark_summary(record: dict[str, Any], job_id: int, model_id: int, reference_id: int | None,
                      ) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """(summary, samples) of ``model_id``'s ``benchmark`` measurement, in a benchmark job's shape: one cell at
    the search's batch, threads and session settings. The reference's own says it was the reference."""
    from engine.measure.benchmark import cell_key

    s = record["settings"]
    runtime = s.get("runtime") or "onnxruntime"
    ort = runtime == "onnxruntime"
    batch, threads = int(s.get("batch") or 1), int(s.get("threads") or 1)
    opt, mode = (s.get("opt_level") or "all", s.get("execution_mode") or "sequential") if ort else (None, None)
    latency = record["latency_ms"]
    cell = {"batch": batch, "threads": threads, "opt_level": opt, "execution_mode": mode, "latency_ms": latency,
            "throughput_per_s": batch * 1e3 / latency["mean"] if latency.get("mean") else None,
            "runs": record["runs"], "stopped_by": record.get("stopped_by")}
    if ort and record["method"] == SCREENING:
        # screening sessions share one global pool, and time apart from sessions with pools of their own (the
        # finals', a benchmark job's): the digits CNN's p50 was a third lower there, so Compare must not
        # divide one by the other as like with like
        cell["thread_pool"] = "shared"
    config = {"runtime": runtime, "batches": [batch], "threads": [threads], "warmup": 5,
              "time_budget_s": record.get("budget_s")}
    if ort:
        config |= {"opt_levels": [opt], "execution_modes": [mode]}
    summary = {"runtime": runtime, "config": config, "results": [cell], "size_bytes": record.get("size_bytes"),
               "gzip_bytes": record.get("gzip_bytes"), "source": "auto",
               "search": {"job_id": job_id, "method": record["method"], "reference_id": reference_id,
                          "is_reference": model_id == reference_id, "ratio": record.get("ratio"),
                          "ratio_ci95": record.get("ratio_ci95")}}
    return summary, {cell_key(batch, threads, opt, mode): list(record.get("samples") or [])}

