"""Models and data: imports, the demo, listing, passes, optimizing and recipes."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from engine.cli.base import (
    JsonOpt,
    app,
    command,
    dataset_app,
    emit,
    fail,
    model_line,
    parse_sets,
    recipe_app,
    wait_for,
)


# ---------------------------------------------------------------- models and data
@command(app, "import")
def import_model(path: Path, name: Optional[str] = typer.Option(None, help="Display name."),
                 as_json: bool = JsonOpt) -> None:
    """Import a model file (.keras, .h5, .onnx, .tflite, or a .zip of a SavedModel / ONNX with data)."""
    from engine import api

    job = wait_for(api.submit_import(path, name))
    emit(api.get_model(job.result["model_id"]).to_json(), as_json, model_line)


@command(dataset_app, "import")
def dataset_import(path: Path, name: Optional[str] = typer.Option(None, help="Display name."),
                   label_column: Optional[str] = typer.Option(None, help="CSV label column (default: label)."),
                   for_model: Optional[int] = typer.Option(None, help="Resize and lay out images for this model."),
                   as_json: bool = JsonOpt) -> None:
    """Import a data set: .npz (x, optional y), CSV, or a zip of images with labels.csv."""
    from engine import api

    job = wait_for(api.submit_dataset_import(path, name, label_column=label_column, for_model_id=for_model))
    d = api.get_dataset(job.result["dataset_id"]).to_json()
    emit(d, as_json, lambda d: f"{d['id']:>4}  {d['name']}  n={d['n_samples']} x={d['x_shape']} labels={d['has_labels']}")


@command(dataset_app, "list")
def dataset_list(as_json: bool = JsonOpt) -> None:
    """List data sets."""
    from engine import api

    rows = [d.to_json() for d in api.list_datasets()]
    emit(rows, as_json, lambda rows: "\n".join(
        f"{d['id']:>4}  {d['name']}  n={d['n_samples']} x={d['x_shape']} labels={d['has_labels']}" for d in rows)
        or "no data sets yet")


@command(app, "demo")
def demo(as_json: bool = JsonOpt) -> None:
    """Train the demo CNN on scikit-learn's digits and import it with its test set."""
    from engine import api

    job = wait_for(api.load_demo())
    emit(job.result, as_json, lambda r: f"demo model {r['model_id']} and data set {r['dataset_id']} are ready")


@command(app, "models")
def models(as_json: bool = JsonOpt) -> None:
    """List every model (uploads and their derived variants)."""
    from engine import api

    rows = [m.to_json() for m in api.list_models()]
    emit(rows, as_json, lambda rows: "\n".join(model_line(m) for m in rows) or "no models yet")


@command(app, "show")
def show(model_id: int, as_json: bool = JsonOpt) -> None:
    """One model with its lineage and measurements."""
    from engine import api

    emit(api.show_model(model_id), as_json)


@command(app, "passes")
def passes(as_json: bool = JsonOpt) -> None:
    """Every pass with the formats it accepts and produces, and its config schema."""
    from engine import api

    rows = api.list_passes()
    emit(rows, as_json, lambda rows: "\n".join(_pass_lines(p) for p in rows))


def _pass_lines(p: dict) -> str:
    """A pass's line, then one line per setting: name, allowed values or type, default, description."""
    schema = p["config_schema"]
    lines = [f"{p['name']:<22} {'/'.join(p['accepts'])} -> {p['produces']:<8} {p['summary']}"]
    for name, field in schema.get("properties", {}).items():
        choices = field.get("enum") or next((o.get("enum") for o in field.get("anyOf", []) if o.get("enum")), None)
        kind = "|".join(map(str, choices)) if choices else field.get("type") or "value"
        if kind == "array":
            kind = "list"
        default = f" = {field['default']!r}" if "default" in field else ""
        lines.append(f"    --set {name}=<{kind}>{default}  {field.get('description', '')}")
    return "\n".join(lines)


@command(app, "optimize")
def optimize(model_id: int, pass_name: str = typer.Argument(..., metavar="PASS"),
             set_: list[str] = typer.Option([], "--set", help="Config value, key=value (repeatable)."),
             dataset: Optional[int] = typer.Option(None, help="Data set id for calibration/fine-tuning."),
             as_json: bool = JsonOpt) -> None:
    """Apply a pass to a model; prints the new child model."""
    from engine import api

    submission = api.submit_optimize(model_id, pass_name, parse_sets(set_), dataset)
    if submission.job is None:
        child_id = submission.existing_model_id
        typer.echo(f"model {child_id} already is this derivation; nothing was recomputed", err=True)
    else:
        child_id = wait_for(submission.job).result["model_id"]
    emit(api.get_model(child_id).to_json(), as_json, model_line)


@command(recipe_app, "run")
def recipe_run(model_id: int, recipe: Path, dataset: Optional[int] = typer.Option(None, help="Data set id."),
               as_json: bool = JsonOpt) -> None:
    """Run a YAML recipe (ordered pass steps) on a model; prints the models produced."""
    from engine import api

    if not recipe.is_file():
        fail(f"no such recipe file: {recipe}")
    job = wait_for(api.submit_recipe(model_id, recipe.read_text(), dataset))
    rows = [api.get_model(i).to_json() for i in job.result["model_ids"]]
    emit(rows, as_json, lambda rows: "\n".join(model_line(m) for m in rows))
