"""Benchmarks, evaluations and comparisons."""
from __future__ import annotations

from typing import Any

from engine.api.common import dataset_meta, get_dataset, get_model, ready
from engine.errors import InputError, validation_sentence
from engine.lookup import model_or_raise
from engine.provenance import source_text
from engine.jobs import service
from engine.jobs.contracts import AbCompareParams, AbOptions, BenchmarkParams
from storage import measurements
from storage.db import session_scope
from storage.records import JobRecord, ModelRecord


def submit_benchmark(model_id: int, config: dict[str, Any] | None = None, target: str | None = None) -> JobRecord:
    """Measure a model; with ``target`` (a worker label, host or fingerprint) only on that host."""
    from pydantic import ValidationError

    from engine.api.workers import check_target
    from engine.measure.benchmark import BenchmarkConfig, validate_for_model

    model = get_model(model_id)
    config = dict(config or {})
    if model.format == "onnx":  # the per-operator profile is what explains a slow quantized variant
        config.setdefault("profile", True)
    try:
        parsed = BenchmarkConfig(**config)
    except ValidationError as exc:
        raise InputError(validation_sentence(exc, "the benchmark", BenchmarkConfig.model_fields,
                                             owner_on_values=False)) from None
    validate_for_model(parsed, model.format, model.inputs)
    return service.submit("benchmark", BenchmarkParams(model_id=model.id, config=parsed), target=check_target(target))


def submit_ab_compare(model_a: int, model_b: int, batch: int = 1, threads: int | None = None,
                      time_budget_s: float = 4.0, target: str | None = None) -> JobRecord:
    """Time two ONNX models alternately (A B A B ...) on one thread pool; the result says whether the
    difference is beyond the noise. ``threads`` defaults to this machine's cores; ``target`` (a worker
    label, host or fingerprint) runs it on that host."""
    from engine.api.workers import check_target
    from engine.measure.hardware import usable_cores

    threads = usable_cores() if threads is None else threads
    a, b = get_model(model_a), get_model(model_b)
    for m in (a, b):
        if m.format != "onnx":
            raise InputError(f"model {m.id} is a {m.format} model; the interleaved comparison times ONNX models")
    if batch < 1 or threads < 1 or time_budget_s <= 0:
        raise InputError("batch and threads must be positive integers and the time budget positive")
    options = AbOptions(batch=batch, threads=threads, time_budget_s=time_budget_s)
    return service.submit("ab_compare", AbCompareParams(model_id=a.id, versus=b.id, options=options),
                          target=check_target(target))


def submit_evaluate(model_id: int, dataset_id: int, task: str | None = None) -> JobRecord:
    from engine.formats import check_dataset_for_model

    model = get_model(model_id)
    dataset = get_dataset(dataset_id)
    check_dataset_for_model(dataset_meta(dataset.id), model.inputs, model.outputs)
    return service.submit("evaluate", {"model_id": model.id, "dataset_id": dataset.id, "task": task})


def compare(model_ids: list[int]) -> list[dict[str, Any]]:
    """One row per model with its latest benchmark and evaluation, ratios to the first model (``delta``),
    and whether no other row beats it on latency, size and accuracy at once (``pareto``)."""
    ready()
    rows = []
    with session_scope() as s:
        for model_id in model_ids:
            model = model_or_raise(s, model_id)
            bench = measurements.latest_measurement(s, model.id, "benchmark")
            ev = measurements.latest_measurement(s, model.id, "evaluate")
            rows.append(_compare_row(model, bench.summary if bench else None, ev.summary if ev else None))
    from engine.provenance import pareto

    base = rows[0] if rows else None
    front = pareto(rows)
    for row in rows:
        row["delta"] = {k: _ratio(row[k], base[k]) for k in ("latency_p50_ms", "size_bytes", "accuracy")}
        row["pareto"] = row["id"] in front
    return rows


def _compare_row(model: ModelRecord, bench: dict | None, ev: dict | None) -> dict[str, Any]:
    first = (bench or {}).get("results", [{}])[0] if bench else {}
    lat = first.get("latency_ms", {})
    metrics = (ev or {}).get("metrics") or {}
    return {"id": model.id, "name": model.name, "format": model.format, "pass": model.pass_name,
            "parent_id": model.parent_id, "size_bytes": model.size_bytes, "params": model.params,
            "latency_p50_ms": lat.get("p50"), "latency_p99_ms": lat.get("p99"),
            "throughput_per_s": first.get("throughput_per_s"), "batch": first.get("batch"),
            "threads": first.get("threads"), "accuracy": metrics.get("accuracy"),
            "agreement": ((ev or {}).get("fidelity") or {}).get("agreement") or
                         (model.metrics.get("fidelity") or {}).get("top1_agreement"),
            "latency_source": source_text(bench) or None}


def _ratio(value: Any, base: Any) -> float | None:
    if value is None or base in (None, 0):
        return None
    return round(float(value) / float(base), 4)


def benchmark_schema() -> dict[str, Any]:
    """The JSON schema of ``BenchmarkConfig``: the Models page builds its benchmark form from it."""
    from engine.measure.benchmark import BenchmarkConfig

    return BenchmarkConfig.model_json_schema()


def dynamic_dims(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dynamic dimensions (other than the batch) a benchmark needs sizes for: ``key`` (for its
    ``dim_values``), ``input``, ``position`` and a ``default`` size to offer."""
    from engine.measure.inputs import dynamic_dims as found

    return found(inputs)


def benchmark_runtimes(model_format: str) -> list[str]:
    """The runtimes that can time a ``model_format`` model, its default first."""
    from engine.measure.runners import ACCEPTS, DEFAULT_RUNTIME

    default = DEFAULT_RUNTIME.get(model_format)
    return sorted((r for r, formats in ACCEPTS.items() if model_format in formats), key=lambda r: r != default)


def latest_benchmarks(model_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each model's latest benchmark summary; models never benchmarked are left out."""
    ready()
    out: dict[int, dict[str, Any]] = {}
    with session_scope() as s:
        for model_id in model_ids:
            latest = measurements.latest_measurement(s, int(model_id), "benchmark")
            if latest is not None:
                out[int(model_id)] = latest.summary
    return out
