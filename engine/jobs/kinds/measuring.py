"""Benchmark and evaluate jobs. Benchmarks hold the host lock alone so nothing else competes for the CPU."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.jobs import contracts as c
from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import artifact_of, logical_cores, model_spec, store_hardware


def _prepare_benchmark(session, job, params: c.BenchmarkParams) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise
    from storage import measurements
    from storage.settings import get_settings

    model = model_or_raise(session, params.model_id)
    parent = None
    if model.parent_id is not None:
        latest = measurements.latest_measurement(session, model.parent_id, "benchmark", exclude_runtime="server-http")
        if latest is not None and _shared_pool(latest.summary):  # a search's screening: not like with like
            latest = next((m for m in reversed(measurements.list_measurements(session, model.parent_id, "benchmark"))
                           if m.runtime != "server-http" and not _shared_pool(m.summary)), None)
        hardware = measurements.get_hardware(session, latest.hardware_id) if latest and latest.hardware_id else None
        if latest is not None and hardware is not None:
            parent = {"model_id": model.parent_id, "measurement_id": latest.id, "fingerprint": hardware.fingerprint,
                      "result": {**latest.summary, "samples": latest.samples},
                      "model": model_spec(model_or_raise(session, model.parent_id))}
    return {"model": model_spec(model), "config": params.config.model_dump(mode="json"), "parent": parent,
            "peak_cache": str(get_settings().home / "hardware" / "peak_gflops.json")}


def _shared_pool(summary: dict[str, Any]) -> bool:
    """A search's screening figure (``engine.auto.measured``): timed in one thread pool shared by the screening
    sessions, a third faster than its own session on the digits CNN, so a child's benchmark is not explained
    against it."""
    first = (summary.get("results") or [{}])[0]
    return isinstance(first, dict) and first.get("thread_pool") == "shared"


def _execute_benchmark(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.measure.benchmark import BenchmarkConfig, run_benchmark
    from engine.measure.hardware import fingerprint, peak_gflops

    config = BenchmarkConfig(**spec["config"])
    ctx.progress(0.02, "reading the hardware")
    hardware = fingerprint()
    hardware["peak"] = peak_gflops(cache_path=Path(spec["peak_cache"]))
    model = spec["model"]
    result = run_benchmark(artifact_of(model), model["inputs"], config, progress=ctx.progress)
    result["roofline"], hardware["peak"] = _judge(model, result, hardware["peak"], config.dim_values)
    result["explanations"], result["compared_with"] = _explain(spec, result, hardware)
    result["explanation_tone"] = _tone(spec, result)
    return {"hardware": hardware, "benchmark": result}


def _roofline(model: dict[str, Any], result: dict[str, Any], peak: dict[str, Any],
              dim_values: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Achieved GFLOP/s of each cell from the model's FLOPs, as a share of the measured peak; none when the
    benchmark fed other open sizes than the FLOPs were counted at."""
    return _judge(model, result, peak, dim_values)[0]


def _judge(model: dict[str, Any], result: dict[str, Any], peak: dict[str, Any],
           dim_values: dict[str, int] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The roofline cells (``_roofline``) and the peak they were judged against: a float cell above the
    measured peak shows the peak was measured too low (under load, say), so the peak is raised to that cell's
    figure (and kept for the next benchmark) rather than a model shown at 148% of the machine's peak."""
    from engine.measure.roofline import raised_peak

    if not model.get("flops") or not _timed_as_counted(model.get("flops_at"), dim_values):
        return [], peak
    cells = _roofline_cells(model, result, peak)
    raised = raised_peak(peak, cells)
    if raised is None:
        return cells, peak
    judged = _roofline_cells(model, result, raised)
    for before, cell in zip(cells, judged):
        if not before["integer_work"] and (before.get("percent_of_peak") or 0) > 100:
            cell["note"] = (f"above the stored float32 peak ({before['peak_gflops']:.1f} GFLOP/s), which was "
                            "measured too low: the peak is raised to this figure")
    return judged, raised


def _roofline_cells(model: dict[str, Any], result: dict[str, Any], peak: dict[str, Any]) -> list[dict[str, Any]]:
    from engine.measure.roofline import achieved

    integer = bool((result.get("profile") or {}).get("quantized")) or model.get("pass") in INTEGER_PASSES
    cells = []
    for r in result.get("results", []):
        cell = {"batch": r["batch"], "threads": r["threads"], "opt_level": r.get("opt_level"),
                **achieved(model["flops"], r["latency_ms"]["p50"], r["batch"], r["threads"], peak),
                "peak_kind": "float32 GEMM", "integer_work": integer}
        if integer:  # the machine's integer peak (VNNI, AMX) is higher than the float32 one it is judged against
            cell["note"] = "integer work measured against the float32 peak; shares above 100% are possible"
        cells.append(cell)
    return cells


def _timed_as_counted(flops_at: list[dict[str, Any]] | None, dim_values: dict[str, int] | None) -> bool:
    """Whether the benchmark fed the open sizes the FLOPs were counted at (another size has other FLOPs)."""
    timed = dim_values or {}
    return all(timed.get(d.get("key")) == d.get("size") for d in flops_at or [])


INTEGER_PASSES = ("ort-quantize-dynamic", "ort-quantize-static", "qat")


def _explain(spec: dict[str, Any], result: dict[str, Any], hardware: dict[str, Any]) -> tuple[list[str], Any]:
    """Compare with the parent's latest benchmark when it was taken on this same hardware."""
    from engine.measure.explain import explain
    from engine.measure.profile import graph_info
    from storage.records import fingerprint_of

    parent = spec.get("parent")
    if not parent:
        return [], None
    if fingerprint_of(hardware.get("cpu", "unknown"), logical_cores(hardware), hardware) != parent["fingerprint"]:
        return ["The parent was benchmarked on other hardware; benchmark it here to compare."], None
    from engine.measure.graph_identity import same_computation

    model = spec["model"]
    info = graph_info(artifact_of(model).onnx_file) if model["format"] == "onnx" else None
    mine, theirs = artifact_of(model), artifact_of(parent["model"])
    identical = same_computation(theirs.path, theirs.format, mine.path, mine.format)
    return explain(parent["result"], result, hardware, info, identical), {
        "model_id": parent["model_id"], "measurement_id": parent["measurement_id"], "identical": identical}


def _keep_peak(peak: Any) -> None:
    """The child cannot write outside its scratch folder: the worker caches the measured peak for the next,
    when it was measured quietly and is new or higher than the cached one (``roofline.replaces``)."""
    from engine.measure.roofline import replaces
    from storage.settings import get_settings

    path = get_settings().home / "hardware" / "peak_gflops.json"
    try:
        stored = json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError):
        stored = None  # an unreadable cache is replaced
    if replaces(peak, stored):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(peak, indent=1))
        tmp.replace(path)


def _tone(spec: dict[str, Any], result: dict[str, Any]) -> str:
    """``warning`` when the explanation reports a loss beyond the noise against the compared parent."""
    from engine.measure.explain import tone

    compared = result.get("compared_with")
    if not compared:
        return "info"
    return tone(spec["parent"]["result"], result, bool(compared.get("identical")))


def _commit_benchmark(session, job, params: c.BenchmarkParams, output: c.BenchmarkOutput,  # noqa: ANN001
                      scratch: Path) -> c.BenchmarkResult:
    from storage import measurements

    hw = output.hardware
    _keep_peak(hw.get("peak"))
    hardware = store_hardware(session, hw)
    bench = dict(output.benchmark)
    samples = bench.pop("samples", {})
    m = measurements.add_measurement(session, model_id=params.model_id, job_id=job.id,
                                     hardware_id=hardware.id, kind="benchmark", runtime=bench.get("runtime"),
                                     summary=bench, samples=samples)
    return c.BenchmarkResult.model_validate({"measurement_id": m.id, "model_id": params.model_id,
                                             "hardware": hardware.to_json(), **bench, "worker": job.worker})


def _prepare_evaluate(session, job, params: c.EvaluateParams) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import dataset_or_raise, model_or_raise
    from storage import artifacts

    model = model_or_raise(session, params.model_id)
    dataset = dataset_or_raise(session, params.dataset_id)
    parent = model_or_raise(session, model.parent_id) if model.parent_id else None
    return {"model": model_spec(model), "parent": model_spec(parent) if parent else None,
            "dataset": {"id": dataset.id, "path": str(artifacts.resolve(dataset.artifact))},
            "task": params.task}


def _execute_evaluate(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.formats import read_dataset
    from engine.measure.evaluate import evaluate

    data = read_dataset(Path(spec["dataset"]["path"]))
    parent = artifact_of(spec["parent"]) if spec.get("parent") else None
    return evaluate(artifact_of(spec["model"]), data, parent=parent, task=spec.get("task"), progress=ctx.progress)


def _commit_evaluate(session, job, params: c.EvaluateParams, output: c.SummaryOutput,  # noqa: ANN001
                     scratch: Path) -> c.EvaluateResult:
    from storage import measurements

    summary = output.model_dump(mode="json")
    m = measurements.add_measurement(session, model_id=params.model_id, job_id=job.id,
                                     dataset_id=params.dataset_id, kind="evaluate", summary=summary)
    return c.EvaluateResult.model_validate({"measurement_id": m.id, "model_id": params.model_id,
                                            "dataset_id": params.dataset_id, **summary})


def _prepare_ab(session, job, params: c.AbCompareParams) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise

    a = model_or_raise(session, params.model_id)
    b = model_or_raise(session, params.versus)
    return {"a": model_spec(a), "b": model_spec(b), "options": params.options.model_dump(mode="json")}


def _execute_ab(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.measure.compare import compare

    ctx.progress(0.1, "timing both models alternately (A B A B ...)")
    a, b = artifact_of(spec["a"]), artifact_of(spec["b"])
    return compare(a.onnx_file, b.onnx_file, **spec["options"])


def _commit_ab(session, job, params: c.AbCompareParams, output: c.SummaryOutput,  # noqa: ANN001
               scratch: Path) -> c.AbCompareResult:
    result = output.model_dump(mode="json")
    summary = {k: v for k, v in result.items() if k != "samples"}  # the raw pairs stay in the log, not the row
    for side in ("a", "b"):
        summary[side] = {k: v for k, v in summary[side].items() if k != "path"}
    return c.AbCompareResult.model_validate({"model_id": params.model_id, "versus": params.versus, **summary,
                                             "worker": job.worker})


BENCHMARK = JobKind(c.BenchmarkParams, c.BenchmarkOutput, c.BenchmarkResult, _prepare_benchmark, _execute_benchmark,
                    _commit_benchmark, exclusive=True)
AB_COMPARE = JobKind(c.AbCompareParams, c.SummaryOutput, c.AbCompareResult, _prepare_ab, _execute_ab, _commit_ab,
                     exclusive=True)
EVALUATE = JobKind(c.EvaluateParams, c.SummaryOutput, c.EvaluateResult, _prepare_evaluate, _execute_evaluate,
                   _commit_evaluate)
