"""Measuring, comparing, choosing, exporting, and following jobs."""
from __future__ import annotations

import json
from typing import Any, Optional

import typer

from engine.cli.base import (
    JsonOpt,
    app,
    command,
    emit,
    fail,
    int_list,
    wait_for,
)


# ---------------------------------------------------------------- measurement
@command(app, "benchmark")
def benchmark(model_id: int, batch: Optional[str] = typer.Option(None, help="Batch sizes, e.g. 1,8."),
              threads: Optional[str] = typer.Option(None, help="Intra-op threads, e.g. 1,2."),
              runtime: Optional[str] = typer.Option(None, help="onnxruntime, tensorflow, keras-predict or tflite."),
              concurrency: int = typer.Option(0, help="Client threads for the serving test (0: off)."),
              opt_level: Optional[str] = typer.Option(None, help="ORT graph optimization levels, e.g. basic,all."),
              profile: Optional[bool] = typer.Option(None, "--profile/--no-profile",
                                                     help="Per-operator profile (default: on for ONNX)."),
              time_budget: Optional[float] = typer.Option(None, help="Seconds per grid cell."),
              target: Optional[str] = typer.Option(None, help="Run on the worker with this label, host or fingerprint."),
              exec_mode: Optional[str] = typer.Option(None, "--exec-mode",
                                                      help="ORT execution modes, e.g. sequential,parallel."),
              dims: Optional[str] = typer.Option(None, "--dims", help="Sizes of dynamic dimensions other than "
                                                                      "the batch, e.g. seq=128, or input:position "
                                                                      "for an unnamed one: input_layer:1=224."),
              as_json: bool = JsonOpt) -> None:
    """Measure latency percentiles, throughput and memory over a grid (threads default to the cores)."""
    from engine import api

    config: dict[str, Any] = {"concurrency": concurrency}
    for key, value in (("profile", profile), ("batches", int_list(batch, "--batch")), ("threads", int_list(threads, "--threads")),
                       ("runtime", runtime), ("time_budget_s", time_budget),
                       ("opt_levels", opt_level.split(",") if opt_level else None),
                       ("execution_modes", exec_mode.split(",") if exec_mode else None),
                       ("dim_values", _dims(dims))):
        if value is not None:
            config[key] = value
    job = wait_for(api.submit_benchmark(model_id, config, target=target))
    emit(job.result, as_json, _bench_table)


def _dims(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    out = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if not name.strip() or not value.strip().isdigit():
            fail(f"--dims expects name=size pairs such as seq=128, got {item!r}")
        out[name.strip()] = int(value)
    return out


def _bench_table(r: dict[str, Any]) -> str:
    lines = [f"model {r['model_id']} on {r['runtime']} — {r['hardware'].get('cpu')}",
             f"{'batch':>5} {'thr':>4} {'mode':>10} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'items/s':>10} "
             f"{'rss MB':>8} {'CPU %':>6}"]
    for c in r["results"]:
        lat = c["latency_ms"]
        lines.append(f"{c['batch']:>5} {c['threads']:>4} {c.get('execution_mode') or '—':>10} {lat['p50']:>9.3f} "
                     f"{lat['p90']:>9.3f} {lat['p99']:>9.3f} {c['throughput_per_s']:>10.1f} "
                     f"{c.get('peak_rss_mb') or 0:>8.0f} {c.get('cpu_percent') or 0:>6.0f}")
    return "\n".join(lines)


@command(app, "evaluate")
def evaluate(model_id: int, dataset: int = typer.Option(..., help="Data set id."),
             task: Optional[str] = typer.Option(None, help="classification or regression (default: inferred)."),
             as_json: bool = JsonOpt) -> None:
    """Accuracy on a data set, and fidelity to the parent model."""
    from engine import api

    job = wait_for(api.submit_evaluate(model_id, dataset, task))
    emit(job.result, as_json, lambda r: f"model {r['model_id']} on data set {r['dataset_id']}: "
                                         f"metrics {json.dumps(r.get('metrics'))} fidelity {json.dumps(r.get('fidelity'))}")


@command(app, "compare")
def compare(model_ids: list[int],
            interleaved: bool = typer.Option(False, help="Time two ONNX models now, alternately (A B A B ...), "
                                                         "and say whether the difference is beyond the noise."),
            batch: int = typer.Option(1, help="With --interleaved: batch size."),
            threads: Optional[int] = typer.Option(None, help="With --interleaved: intra-op threads "
                                                             "(default: this machine's cores)."),
            pareto: bool = typer.Option(False, "--pareto", help="Mark the family's Pareto front; with one id, "
                                                                 "compare that model with the whole front."),
            target: Optional[str] = typer.Option(None, help="With --interleaved: run on the worker with this "
                                                            "label, host or fingerprint."),
            as_json: bool = JsonOpt) -> None:
    """Latest metrics of each model and ratios to the first."""
    from engine import api

    if interleaved:
        if len(model_ids) != 2:
            fail("--interleaved compares exactly two models")
        result = wait_for(api.submit_ab_compare(model_ids[0], model_ids[1], batch, threads, target=target)).result
        emit(result, as_json, _ab_line)
        return
    rows = api.compare(model_ids)
    if pareto:
        front = {r["id"] for r in api.family_overview(api.get_model(model_ids[0]).root_id) if r["pareto"]}
        for r in rows:
            r["pareto"] = r["id"] in front
        if len(model_ids) == 1:  # one id: the family's whole front
            rows = api.compare(sorted(front | {model_ids[0]}))
            for r in rows:
                r["pareto"] = r["id"] in front
    emit(rows, as_json, _compare_table)


def _cell(value: Any, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _compare_table(rows: list[dict[str, Any]]) -> str:
    """A plain table: latency, size, accuracy and the ratios to the first model."""
    head = (f"{'id':>5}  {'variant':<34} {'p50 ms':>9} {'×first':>7} {'size KiB':>9} {'×first':>7} "
            f"{'accuracy':>8}" + (f" {'Pareto':>6}" if "pareto" in rows[0] else ""))
    lines = [head, "-" * len(head)]
    for r in rows:
        d = r.get("delta") or {}
        name = f"{r['name']} ({r.get('pass') or 'root'})"[:34]
        lines.append(f"{r['id']:>5}  {name:<34} {_cell(r.get('latency_p50_ms'), '9.4f')} "
                     f"{_cell(d.get('latency_p50_ms'), '7.2f')} {r['size_bytes'] / 1024:>9.1f} "
                     f"{_cell(d.get('size_bytes'), '7.2f')} {_cell(r.get('accuracy'), '8.2%')}"
                     + (f" {'✓' if r.get('pareto') else '':>6}" if "pareto" in r else ""))
    return "\n".join(lines)


def _ab_line(r: dict[str, Any]) -> str:
    lo, hi = r["ratio_ci95"]
    verdict = "beyond the noise" if r["significant"] else "within the noise"
    return (f"model {r['versus']} / model {r['model_id']}: p50 {r['b']['p50_ms']:.4f} ms / {r['a']['p50_ms']:.4f} ms"
            f" = {r['ratio_b_over_a']:.3f} (95% CI {lo:.3f}–{hi:.3f}), "
            f"{verdict}; {r['pairs']} interleaved pairs")


@command(app, "champion")
def champion(model_id: int, note: str = typer.Option("", help="Why this variant."),
             machine: Optional[int] = typer.Option(None, "--machine", help="The hardware id of the target machine "
                                                   "(as in `trimline show`): the champion for that machine only.")
             ) -> None:
    """Mark a model as the champion of its family (or of its family on one target machine)."""
    from engine import api

    api.set_champion(model_id, note, hardware_id=machine)
    typer.echo(f"model {model_id} is now its family's champion" + (f" on hardware #{machine}" if machine else ""))


@command(app, "export")
def export(model_id: int, format_: str = typer.Option(..., "--format", help="onnx, keras, savedmodel, tflite, "
                                                     "bundle, tfserving or triton."),
           output: str = typer.Option(..., "-o", "--output", help="File to write, or a folder (ending in /)."),
           ensemble: bool = typer.Option(False, "--ensemble", help="Triton only: a composed chain as an ensemble "
                                                                  "of its two members."),
           as_json: bool = JsonOpt) -> None:
    """Export a model as a file, a verified bundle, or a serving layout."""
    from engine import api

    job = wait_for(api.submit_export(model_id, format_, ensemble=ensemble))
    dest = api.copy_export(job, output)
    emit({"path": str(dest), "sha256": job.result["sha256"], "format": format_, "model_id": model_id,
           "size_bytes": job.result["size_bytes"]}, as_json, lambda r: f"wrote {r['path']} (sha256 {r['sha256']})")


# ---------------------------------------------------------------- jobs
@command(app, "jobs")
def jobs(as_json: bool = JsonOpt, limit: int = typer.Option(50, help="How many, newest first.")) -> None:
    """Recent jobs with status, progress and error."""
    from engine import api

    rows = [j.to_json() for j in api.list_jobs(limit)]
    emit(rows, as_json, lambda rows: "\n".join(
        f"{j['id']:>5} {j['kind']:<14} {j['status']:<10} {j['progress'] * 100:3.0f}% {j['error'] or j['message']}"
        for j in rows) or "no jobs yet")


@command(app, "cancel")
def cancel(job_id: int, as_json: bool = JsonOpt) -> None:
    """Cancel a queued job, or stop a running one."""
    from engine import api

    job = api.cancel_job(job_id)
    emit(job.to_json(), as_json, lambda j: f"job {j['id']}: {j['status']}"
          + (" (stop requested)" if j["status"] == "running" else ""))
