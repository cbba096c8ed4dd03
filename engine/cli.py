"""``trimline``: the studio from the command line. A thin shell over ``engine.api``.

Every verb that does work submits a job exactly as the dashboard does and waits for it; with no
worker alive the job runs here, through the same sandboxed runner. ``--json`` prints one JSON
document on stdout; errors print ``error: <sentence>`` on stderr and exit 1.
"""
from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

import engine  # noqa: F401  (environment defaults)
from engine.errors import EngineError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Trimline: optimize trained models for deployment.")
dataset_app = typer.Typer(no_args_is_help=True, help="Data sets for calibration, fine-tuning and evaluation.")
recipe_app = typer.Typer(no_args_is_help=True, help="Ordered pass steps saved as YAML.")
app.add_typer(dataset_app, name="dataset")
app.add_typer(recipe_app, name="recipe")

JsonOpt = typer.Option(False, "--json", help="Print one JSON document on stdout.")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def command(group: typer.Typer, name: str | None = None) -> Callable:
    """Register a verb whose EngineErrors become ``error: <sentence>`` and exit code 1."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except EngineError as exc:
                _fail(str(exc))
            except KeyboardInterrupt:
                _fail("interrupted")
            except typer.Exit:
                raise
            except Exception as exc:  # a bug, not bad input: say so in one line; TRIMLINE_DEBUG=1 shows the trace
                if os.environ.get("TRIMLINE_DEBUG"):
                    raise
                _fail(f"internal error ({type(exc).__name__}: {exc}); rerun with TRIMLINE_DEBUG=1 for the traceback")
        return group.command(name)(wrapper)
    return decorate


def _emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        typer.echo(human(data) if human else json.dumps(data, indent=2, default=str))


def _progress(job) -> None:  # noqa: ANN001
    if sys.stderr.isatty() or os.environ.get("TRIMLINE_PROGRESS"):
        typer.echo(f"[job {job.id}] {job.status} {job.progress * 100:3.0f}% {job.message}", err=True)


def _wait(job) -> Any:  # noqa: ANN001
    from engine.jobs import service

    return service.wait(job.id, on_update=_progress)


def _model_line(m: dict[str, Any]) -> str:
    ins = ", ".join(f"{i['name']}{i['shape']}:{i['dtype']}" for i in m["inputs"])
    origin = f"from {m['parent_id']} by {m['pass']}" if m.get("parent_id") else "uploaded"
    return (f"{m['id']:>4}  {m['name']}  [{m['format']}]  {m['size_bytes'] / 1e6:.2f} MB  "
            f"params={m['params']}  flops={m['flops']}  inputs: {ins}  ({origin})")


def _parse_sets(values: list[str]) -> dict[str, str]:
    config = {}
    for item in values:
        if "=" not in item:
            _fail(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        config[key.strip()] = value.strip()
    return config


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        _fail(f"{what} must be a comma-separated list of integers, got {text!r}")


# ---------------------------------------------------------------- running the studio
@command(app, "up")
def up(host: str = typer.Option("127.0.0.1", help="Address the dashboard binds to."),
       port: int = typer.Option(int(os.environ.get("PORT", 8501)), help="Dashboard port (env PORT)."),
       workers: int = typer.Option(1, help="Worker processes to start.")) -> None:
    """Migrate, start worker(s) and the dashboard; Ctrl-C stops all."""
    from engine import api

    api.ready()
    root = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], cwd=root) for _ in range(workers)]
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "app" / "streamlit_app.py"),
         "--server.address", host, "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false"], cwd=root))
    typer.echo(f"Trimline is starting on http://{host}:{port}  (Ctrl-C stops it)", err=True)

    def _stop(signum, frame):  # noqa: ANN001  (SIGTERM stops everything, like Ctrl-C)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        while all(p.poll() is None for p in procs):
            try:
                procs[-1].wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@command(app, "worker")
def worker(threads: int = typer.Option(1, help="Jobs run at once by this worker.")) -> None:
    """Run a worker only (one per benchmark host when scaling out)."""
    import logging

    from engine.jobs.service import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(threads=threads)


@command(app, "migrate")
def migrate_cmd() -> None:
    """Create or upgrade the database to the newest schema."""
    from storage import migrate

    migrate.upgrade()
    typer.echo(f"database at revision {migrate.current_revision()}")


@command(app, "doctor")
def doctor(as_json: bool = JsonOpt) -> None:
    """Versions, CPU flags and checks that the studio can run here."""
    from engine.doctor import run_checks

    report = run_checks()
    _emit(report, as_json, lambda r: "\n".join(
        [f"{'ok ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" for c in r["checks"]]
        + [f"cpu: {r['hardware'].get('cpu')}  flags: "
           f"{' '.join(f for f, on in r['hardware'].get('flags', {}).items() if on)}"]))
    if not report["ok"]:
        raise typer.Exit(1)


# ---------------------------------------------------------------- models and data
@command(app, "import")
def import_model(path: Path, name: Optional[str] = typer.Option(None, help="Display name."),
                 as_json: bool = JsonOpt) -> None:
    """Import a model file (.keras, .h5, .onnx, .tflite, or a .zip of a SavedModel / ONNX with data)."""
    from engine import api

    job = _wait(api.submit_import(path, name))
    _emit(api.get_model(job.result["model_id"]).to_json(), as_json, _model_line)


@command(dataset_app, "import")
def dataset_import(path: Path, name: Optional[str] = typer.Option(None, help="Display name."),
                   label_column: Optional[str] = typer.Option(None, help="CSV label column (default: label)."),
                   for_model: Optional[int] = typer.Option(None, help="Resize and lay out images for this model."),
                   as_json: bool = JsonOpt) -> None:
    """Import a data set: .npz (x, optional y), CSV, or a zip of images with labels.csv."""
    from engine import api

    job = _wait(api.submit_dataset_import(path, name, label_column=label_column, for_model_id=for_model))
    d = api.get_dataset(job.result["dataset_id"]).to_json()
    _emit(d, as_json, lambda d: f"{d['id']:>4}  {d['name']}  n={d['n_samples']} x={d['x_shape']} labels={d['has_labels']}")


@command(dataset_app, "list")
def dataset_list(as_json: bool = JsonOpt) -> None:
    """List data sets."""
    from engine import api

    rows = [d.to_json() for d in api.list_datasets()]
    _emit(rows, as_json, lambda rows: "\n".join(
        f"{d['id']:>4}  {d['name']}  n={d['n_samples']} x={d['x_shape']} labels={d['has_labels']}" for d in rows)
        or "no data sets yet")


@command(app, "demo")
def demo(as_json: bool = JsonOpt) -> None:
    """Train the demo CNN on scikit-learn's digits and import it with its test set."""
    from engine import api

    job = _wait(api.load_demo())
    _emit(job.result, as_json, lambda r: f"demo model {r['model_id']} and data set {r['dataset_id']} are ready")


@command(app, "models")
def models(as_json: bool = JsonOpt) -> None:
    """List every model (uploads and their derived variants)."""
    from engine import api

    rows = [m.to_json() for m in api.list_models()]
    _emit(rows, as_json, lambda rows: "\n".join(_model_line(m) for m in rows) or "no models yet")


@command(app, "show")
def show(model_id: int, as_json: bool = JsonOpt) -> None:
    """One model with its lineage and measurements."""
    from engine import api

    _emit(api.show_model(model_id), as_json)


@command(app, "passes")
def passes(as_json: bool = JsonOpt) -> None:
    """Every pass with the formats it accepts and produces, and its config schema."""
    from engine import api

    rows = api.list_passes()
    _emit(rows, as_json, lambda rows: "\n".join(
        f"{p['name']:<22} {'/'.join(p['accepts'])} -> {p['produces']:<8} {p['summary']}" for p in rows))


@command(app, "optimize")
def optimize(model_id: int, pass_name: str = typer.Argument(..., metavar="PASS"),
             set_: list[str] = typer.Option([], "--set", help="Config value, key=value (repeatable)."),
             dataset: Optional[int] = typer.Option(None, help="Data set id for calibration/fine-tuning."),
             as_json: bool = JsonOpt) -> None:
    """Apply a pass to a model; prints the new child model."""
    from engine import api

    submission = api.submit_optimize(model_id, pass_name, _parse_sets(set_), dataset)
    if submission.job is None:
        child_id = submission.existing_model_id
        typer.echo(f"model {child_id} already is this derivation; nothing was recomputed", err=True)
    else:
        child_id = _wait(submission.job).result["model_id"]
    _emit(api.get_model(child_id).to_json(), as_json, _model_line)


@command(recipe_app, "run")
def recipe_run(model_id: int, recipe: Path, dataset: Optional[int] = typer.Option(None, help="Data set id."),
               as_json: bool = JsonOpt) -> None:
    """Run a YAML recipe (ordered pass steps) on a model; prints the models produced."""
    from engine import api

    if not recipe.is_file():
        _fail(f"no such recipe file: {recipe}")
    job = _wait(api.submit_recipe(model_id, recipe.read_text(), dataset))
    rows = [api.get_model(i).to_json() for i in job.result["model_ids"]]
    _emit(rows, as_json, lambda rows: "\n".join(_model_line(m) for m in rows))


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
              as_json: bool = JsonOpt) -> None:
    """Measure latency percentiles, throughput and memory over a grid."""
    from engine import api

    config: dict[str, Any] = {"concurrency": concurrency}
    for key, value in (("profile", profile), ("batches", _int_list(batch, "--batch")), ("threads", _int_list(threads, "--threads")),
                       ("runtime", runtime), ("time_budget_s", time_budget),
                       ("opt_levels", opt_level.split(",") if opt_level else None)):
        if value is not None:
            config[key] = value
    job = _wait(api.submit_benchmark(model_id, config))
    _emit(job.result, as_json, _bench_table)


def _bench_table(r: dict[str, Any]) -> str:
    lines = [f"model {r['model_id']} on {r['runtime']} — {r['hardware'].get('cpu')}",
             f"{'batch':>5} {'thr':>4} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'items/s':>10} {'rss MB':>8}"]
    for c in r["results"]:
        lat = c["latency_ms"]
        lines.append(f"{c['batch']:>5} {c['threads']:>4} {lat['p50']:>9.3f} {lat['p90']:>9.3f} {lat['p99']:>9.3f} "
                     f"{c['throughput_per_s']:>10.1f} {c.get('peak_rss_mb') or 0:>8.0f}")
    return "\n".join(lines)


@command(app, "evaluate")
def evaluate(model_id: int, dataset: int = typer.Option(..., help="Data set id."),
             task: Optional[str] = typer.Option(None, help="classification or regression (default: inferred)."),
             as_json: bool = JsonOpt) -> None:
    """Accuracy on a data set, and fidelity to the parent model."""
    from engine import api

    job = _wait(api.submit_evaluate(model_id, dataset, task))
    _emit(job.result, as_json, lambda r: f"model {r['model_id']} on data set {r['dataset_id']}: "
                                         f"metrics {json.dumps(r.get('metrics'))} fidelity {json.dumps(r.get('fidelity'))}")


@command(app, "compare")
def compare(model_ids: list[int],
            interleaved: bool = typer.Option(False, help="Time two ONNX models now, alternately (A B A B ...), "
                                                         "and say whether the difference is beyond the noise."),
            batch: int = typer.Option(1, help="With --interleaved: batch size."),
            threads: int = typer.Option(1, help="With --interleaved: intra-op threads."),
            as_json: bool = JsonOpt) -> None:
    """Latest metrics of each model and ratios to the first."""
    from engine import api

    if interleaved:
        if len(model_ids) != 2:
            _fail("--interleaved compares exactly two models")
        result = _wait(api.submit_ab_compare(model_ids[0], model_ids[1], batch, threads)).result
        _emit(result, as_json, _ab_line)
        return
    rows = api.compare(model_ids)
    _emit(rows, as_json, lambda rows: "\n".join(
        f"{r['id']:>4} {r['name']:<40} p50={r['latency_p50_ms']} ms size={r['size_bytes']} acc={r['accuracy']} "
        f"ratios={r['delta']}" for r in rows))


def _ab_line(r: dict[str, Any]) -> str:
    lo, hi = r["ratio_ci95"]
    verdict = "beyond the noise" if r["significant"] else "within the noise"
    return (f"model {r['versus']} / model {r['model_id']}: p50 {r['b']['p50_ms']:.4f} ms / {r['a']['p50_ms']:.4f} ms"
            f" = {r['ratio_b_over_a']:.3f} (95% CI {lo:.3f}–{hi:.3f}), "
            f"{verdict}; {r['pairs']} interleaved pairs")


@command(app, "champion")
def champion(model_id: int, note: str = typer.Option("", help="Why this variant.")) -> None:
    """Mark a model as the champion of its family."""
    from engine import api

    api.set_champion(model_id, note)
    typer.echo(f"model {model_id} is now its family's champion")


@command(app, "export")
def export(model_id: int, format_: str = typer.Option(..., "--format", help="onnx, keras, savedmodel, tflite, "
                                                     "bundle, tfserving or triton."),
           output: str = typer.Option(..., "-o", "--output", help="File to write, or a folder (ending in /)."),
           as_json: bool = JsonOpt) -> None:
    """Export a model as a file, a verified bundle, or a serving layout."""
    from engine import api

    job = _wait(api.submit_export(model_id, format_))
    dest = api.copy_export(job, output)
    _emit({"path": str(dest), "sha256": job.result["sha256"], "format": format_, "model_id": model_id,
           "size_bytes": job.result["size_bytes"]}, as_json, lambda r: f"wrote {r['path']} (sha256 {r['sha256']})")


# ---------------------------------------------------------------- jobs
@command(app, "jobs")
def jobs(as_json: bool = JsonOpt, limit: int = typer.Option(50, help="How many, newest first.")) -> None:
    """Recent jobs with status, progress and error."""
    from engine import api

    rows = [j.to_json() for j in api.list_jobs(limit)]
    _emit(rows, as_json, lambda rows: "\n".join(
        f"{j['id']:>5} {j['kind']:<14} {j['status']:<10} {j['progress'] * 100:3.0f}% {j['error'] or j['message']}"
        for j in rows) or "no jobs yet")


@command(app, "cancel")
def cancel(job_id: int, as_json: bool = JsonOpt) -> None:
    """Cancel a queued job, or stop a running one."""
    from engine import api
    from engine.jobs import service

    api.ready()
    job = service.cancel(job_id)
    _emit(job.to_json(), as_json, lambda j: f"job {j['id']}: {j['status']}"
          + (" (stop requested)" if j["status"] == "running" else ""))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
