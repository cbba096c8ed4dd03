"""Benchmark and evaluate jobs. Benchmarks hold the host lock alone so nothing else competes for the CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import artifact_of, dataset_or_raise, model_or_raise, model_spec
from storage import artifacts, measurements
from storage.settings import get_settings


def _prepare_benchmark(session, job) -> dict[str, Any]:  # noqa: ANN001
    model = model_or_raise(session, job.params["model_id"])
    return {"model": model_spec(model), "config": job.params.get("config", {}),
            "peak_cache": str(get_settings().home / "peak.json")}


def _execute_benchmark(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.measure.benchmark import BenchmarkConfig, run_benchmark
    from engine.measure.hardware import fingerprint, peak_gflops

    config = BenchmarkConfig(**spec["config"])
    ctx.progress(0.02, "reading the hardware")
    hardware = fingerprint()
    hardware["peak"] = peak_gflops(cache_path=Path(spec["peak_cache"]))
    model = spec["model"]
    result = run_benchmark(artifact_of(model), model["inputs"], config, progress=ctx.progress)
    return {"hardware": hardware, "benchmark": result}


def _commit_benchmark(session, job, result: dict[str, Any], scratch: Path) -> dict[str, Any]:  # noqa: ANN001
    hw = result["hardware"]
    cores = hw.get("cores")
    cores = cores.get("logical", 0) if isinstance(cores, dict) else int(cores or 0)
    hardware = measurements.upsert_hardware(session, hw.get("cpu", "unknown"), cores, hw)
    bench = dict(result["benchmark"])
    samples = bench.pop("samples", {})
    m = measurements.add_measurement(session, model_id=job.params["model_id"], job_id=job.id,
                                     hardware_id=hardware.id, kind="benchmark", runtime=bench.get("runtime"),
                                     summary=bench, samples=samples)
    return {"measurement_id": m.id, "model_id": job.params["model_id"], "hardware": hardware.to_json(), **bench}


def _prepare_evaluate(session, job) -> dict[str, Any]:  # noqa: ANN001
    model = model_or_raise(session, job.params["model_id"])
    dataset = dataset_or_raise(session, job.params["dataset_id"])
    parent = model_or_raise(session, model.parent_id) if model.parent_id else None
    return {"model": model_spec(model), "parent": model_spec(parent) if parent else None,
            "dataset": {"id": dataset.id, "path": str(artifacts.resolve(dataset.artifact))},
            "task": job.params.get("task")}


def _execute_evaluate(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.formats import read_dataset
    from engine.measure.evaluate import evaluate

    data = read_dataset(Path(spec["dataset"]["path"]))
    parent = artifact_of(spec["parent"]) if spec.get("parent") else None
    return evaluate(artifact_of(spec["model"]), data, parent=parent, task=spec.get("task"), progress=ctx.progress)


def _commit_evaluate(session, job, result: dict[str, Any], scratch: Path) -> dict[str, Any]:  # noqa: ANN001
    m = measurements.add_measurement(session, model_id=job.params["model_id"], job_id=job.id,
                                     dataset_id=job.params["dataset_id"], kind="evaluate", summary=result)
    return {"measurement_id": m.id, "model_id": job.params["model_id"], "dataset_id": job.params["dataset_id"],
            **result}


BENCHMARK = JobKind(prepare=_prepare_benchmark, execute=_execute_benchmark, commit=_commit_benchmark, exclusive=True)
EVALUATE = JobKind(prepare=_prepare_evaluate, execute=_execute_evaluate, commit=_commit_evaluate)
