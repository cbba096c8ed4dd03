"""The one surface the dashboard and the CLI call. It validates at the edge, submits jobs, reads storage.

Everything here refuses bad input with an ``InputError`` sentence *before* anything is queued or
stored, and returns plain records or JSON-ready dicts.
"""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import InputError, NotFoundError
from engine.jobs import service
from storage import artifacts, catalog, measurements, migrate
from storage.db import session_scope
from storage.records import DatasetRecord, JobRecord, ModelRecord
from storage.settings import get_settings

MAX_UPLOAD_BYTES = 2 << 30
_ready: set[str] = set()


def ready() -> None:
    """Create or migrate the database on first use in this process."""
    url = get_settings().database_url
    if url not in _ready:
        migrate.upgrade(url)
        _ready.add(url)


@dataclass(frozen=True)
class Submission:
    """A queued job, or — when the same derivation already exists — the existing model and no job."""

    job: JobRecord | None
    existing_model_id: int | None = None


# ---------------------------------------------------------------- uploads and imports
def save_upload(stream: BinaryIO, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Stream an untrusted upload to disk under a generated name (never the client's file name)."""
    ready()
    folder = get_settings().upload_dir
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"upload-{uuid.uuid4().hex}"
    written = 0
    with dest.open("wb") as out:
        while chunk := stream.read(1 << 20):
            written += len(chunk)
            if written > max_bytes:
                out.close()
                dest.unlink(missing_ok=True)
                raise InputError(f"the upload is larger than the limit of {max_bytes >> 20} MB")
            out.write(chunk)
    if written == 0:
        dest.unlink(missing_ok=True)
        raise InputError("the uploaded file is empty")
    return dest


def _stage_local_file(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder; upload a SavedModel or an ONNX model with external data as a .zip")
    with path.open("rb") as fh:
        return save_upload(fh)


def submit_import(path: Path | None = None, name: str | None = None, upload: Path | None = None) -> JobRecord:
    """Import a model file (a local path, or an upload already saved by ``save_upload``)."""
    ready()
    staged = upload or _stage_local_file(Path(path))
    name = (name or (Path(path).stem if path else "model")).strip()[:200] or "model"
    return service.submit("import", {"upload": str(staged), "name": name})


def submit_dataset_import(path: Path | None = None, name: str | None = None, upload: Path | None = None,
                          label_column: str | None = None, for_model_id: int | None = None) -> JobRecord:
    """Import a data set. With ``for_model_id``, a zip of images is resized and laid out for that model."""
    ready()
    layout = image_layout_for(get_model(for_model_id)) if for_model_id is not None else None
    staged = upload or _stage_local_file(Path(path))
    name = (name or (Path(path).stem if path else "dataset")).strip()[:200] or "dataset"
    return service.submit("dataset_import", {"upload": str(staged), "name": name, "label_column": label_column,
                                             "image_layout": layout})


def image_layout_for(model: ModelRecord) -> dict[str, Any]:
    """Image size, channels and layout a model's first input expects (4-D inputs only)."""
    shape = model.inputs[0]["shape"] if model.inputs else []
    if len(shape) != 4:
        raise InputError(f"model {model.id}'s input has shape {shape}; only image models (4-D input) set an "
                         "image size for a data set")
    dims = [d if isinstance(d, int) else None for d in shape[1:]]
    channels_first = dims[0] in (1, 3, 4) and dims[2] not in (1, 3, 4)
    h, w, c = (dims[1], dims[2], dims[0]) if channels_first else (dims[0], dims[1], dims[2])
    if not (h and w and c):
        raise InputError(f"model {model.id}'s input {shape} has no fixed image size to resize to")
    return {"size": [h, w], "channels": c, "channels_first": channels_first}


# ---------------------------------------------------------------- reading
def get_model(model_id: int) -> ModelRecord:
    ready()
    with session_scope() as s:
        model = catalog.get_model(s, int(model_id))
    if model is None:
        raise NotFoundError(f"model {model_id} does not exist")
    return model


def get_dataset(dataset_id: int) -> DatasetRecord:
    ready()
    with session_scope() as s:
        dataset = catalog.get_dataset(s, int(dataset_id))
    if dataset is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
    return dataset


def list_models(root_id: int | None = None) -> list[ModelRecord]:
    ready()
    with session_scope() as s:
        return catalog.list_models(s, root_id)


def list_datasets() -> list[DatasetRecord]:
    ready()
    with session_scope() as s:
        return catalog.list_datasets(s)


def list_jobs(limit: int = 200) -> list[JobRecord]:
    ready()
    from storage import jobs as jobstore

    with session_scope() as s:
        return jobstore.list_jobs(s, limit)


def show_model(model_id: int) -> dict[str, Any]:
    """A model with its lineage neighbours and measurements (the CLI's ``show``)."""
    model = get_model(model_id)
    with session_scope() as s:
        kids = catalog.children(s, model.id)
        ms = measurements.list_measurements(s, model.id)
        champion = catalog.get_champion(s, model.root_id)
    return {**model.to_json(), "children": [k.id for k in kids], "measurements": [m.to_json() for m in ms],
            "champion": bool(champion and champion.model_id == model.id)}


def model_path(model_id: int) -> Path:
    """The stored artifact of a model, looked up by id and checked to stay inside the store."""
    return artifacts.resolve(get_model(model_id).artifact)


def dataset_path(dataset_id: int) -> Path:
    return artifacts.resolve(get_dataset(dataset_id).artifact)


def export_path(job: JobRecord) -> Path:
    if job.kind != "export" or job.status != "succeeded" or not job.result:
        raise InputError(f"job {job.id} is not a finished export")
    return artifacts.resolve(job.result["artifact"])


# ---------------------------------------------------------------- passes and optimization
def list_passes() -> list[dict[str, Any]]:
    from engine.passes import PASSES

    return [spec.describe() for spec in PASSES.values()]


def _dataset_meta(dataset_id: int | None) -> dict[str, Any] | None:
    if dataset_id is None:
        return None
    d = get_dataset(dataset_id)
    return {"id": d.id, "has_labels": d.has_labels, "n_samples": d.n_samples, "x_shape": d.x_shape,
            "x_dtype": d.x_dtype, "n_classes": d.n_classes, "sha256": d.sha256}


def _student_refs(config: dict[str, Any]) -> list[int]:
    student = config.get("student")
    if student is None:
        return []
    get_model(int(student))
    return [int(student)]


def submit_optimize(model_id: int, pass_name: str, raw_config: dict[str, Any] | None = None,
                    dataset_id: int | None = None) -> Submission:
    """Validate a pass request and queue it, or return the existing node for an identical derivation."""
    from engine.jobs.kinds.optimizing import derivation_key, model_identity
    from engine.passes import validate_request

    parent = get_model(model_id)
    meta = _dataset_meta(dataset_id)
    try:
        config = validate_request(pass_name, raw_config or {}, parent.format, meta)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if meta is not None:
        from engine.formats import check_dataset_for_model

        check_dataset_for_model(meta, parent.inputs, parent.outputs)
    config_json = config.model_dump(mode="json")
    key = derivation_key(model_identity(parent), pass_name, config_json, meta["sha256"] if meta else None)
    with session_scope() as s:
        existing = catalog.find_derived(s, key)
    if existing is not None:
        return Submission(job=None, existing_model_id=existing.id)
    params = {"model_id": parent.id, "pass": pass_name, "config": config_json, "dataset_id": dataset_id,
              "dataset_sha256": meta["sha256"] if meta else None, "model_refs": _student_refs(config_json)}
    return Submission(job=service.submit("optimize", params))


def submit_recipe(model_id: int, recipe_text: str, dataset_id: int | None = None) -> JobRecord:
    """Validate every step (format chain, data needs, typed configs) and queue the recipe as one job."""
    from engine.passes import PASSES, validate_request
    from engine.recipes import load_recipe

    parent = get_model(model_id)
    meta = _dataset_meta(dataset_id)
    try:
        recipe = load_recipe(recipe_text)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    steps, current = [], parent.format
    for number, step in enumerate(recipe.steps, start=1):
        try:
            config = validate_request(step.pass_name, step.config, current, meta)
        except InputError as exc:
            raise InputError(f"recipe step {number}: {exc}") from None
        steps.append({"pass": step.pass_name, "config": config.model_dump(mode="json")})
        current = PASSES[step.pass_name].produces
    refs = sorted({r for step in steps for r in _student_refs(step["config"])})
    params = {"model_id": parent.id, "steps": steps, "dataset_id": dataset_id,
              "dataset_sha256": meta["sha256"] if meta else None, "model_refs": refs}
    return service.submit("recipe", params)


# ---------------------------------------------------------------- measurement
def submit_benchmark(model_id: int, config: dict[str, Any] | None = None) -> JobRecord:
    from engine.measure.benchmark import BenchmarkConfig, validate_for_model

    model = get_model(model_id)
    config = dict(config or {})
    if model.format == "onnx":  # the per-operator profile is what explains a slow quantized variant
        config.setdefault("profile", True)
    try:
        parsed = BenchmarkConfig(**config)
        validate_for_model(parsed, model.format, model.inputs)
    except ValueError as exc:
        raise InputError(_first_sentence(exc)) from None
    return service.submit("benchmark", {"model_id": model.id, "config": parsed.model_dump(mode="json")})


def submit_ab_compare(model_a: int, model_b: int, batch: int = 1, threads: int = 1,
                      time_budget_s: float = 4.0) -> JobRecord:
    """Time two ONNX models alternately (A B A B ...) on one thread pool; the result says whether the
    difference is beyond the noise."""
    a, b = get_model(model_a), get_model(model_b)
    for m in (a, b):
        if m.format != "onnx":
            raise InputError(f"model {m.id} is a {m.format} model; the interleaved comparison times ONNX models")
    if batch < 1 or threads < 1 or time_budget_s <= 0:
        raise InputError("batch and threads must be positive integers and the time budget positive")
    options = {"batch": batch, "threads": threads, "time_budget_s": time_budget_s}
    return service.submit("ab_compare", {"model_id": a.id, "versus": b.id, "options": options})


def submit_evaluate(model_id: int, dataset_id: int, task: str | None = None) -> JobRecord:
    from engine.formats import check_dataset_for_model

    model = get_model(model_id)
    dataset = get_dataset(dataset_id)
    check_dataset_for_model(_dataset_meta(dataset.id), model.inputs, model.outputs)
    return service.submit("evaluate", {"model_id": model.id, "dataset_id": dataset.id, "task": task})


def compare(model_ids: list[int]) -> list[dict[str, Any]]:
    """One row per model with its latest benchmark and evaluation, and deltas to the first model."""
    ready()
    rows = []
    with session_scope() as s:
        for model_id in model_ids:
            model = catalog.get_model(s, int(model_id))
            if model is None:
                raise NotFoundError(f"model {model_id} does not exist")
            bench = measurements.latest_measurement(s, model.id, "benchmark")
            ev = measurements.latest_measurement(s, model.id, "evaluate")
            rows.append(_compare_row(model, bench.summary if bench else None, ev.summary if ev else None))
    base = rows[0] if rows else None
    for row in rows:
        row["delta"] = {k: _ratio(row[k], base[k]) for k in ("latency_p50_ms", "size_bytes", "accuracy")}
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
                         (model.metrics.get("fidelity") or {}).get("top1_agreement")}


def _ratio(value: Any, base: Any) -> float | None:
    if value is None or base in (None, 0):
        return None
    return round(float(value) / float(base), 4)


def _first_sentence(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("ctx", {}).get("error") or first.get("msg")).removeprefix("Value error, ")
    return str(exc)


# ---------------------------------------------------------------- champions and export
def set_champion(model_id: int, note: str = "") -> None:
    model = get_model(model_id)
    with session_scope() as s:
        catalog.set_champion(s, model.root_id, model.id, note)


def get_champion(root_id: int) -> int | None:
    ready()
    with session_scope() as s:
        champion = catalog.get_champion(s, root_id)
    return champion.model_id if champion else None


def submit_export(model_id: int, target: str) -> JobRecord:
    from engine.exporters import check_export_request

    model = get_model(model_id)
    check_export_request(model.format, target, model.id)
    return service.submit("export", {"model_id": model.id, "format": target})


def copy_export(job: JobRecord, dest: Path | str) -> Path:
    """Copy a finished export to ``dest``: a file path, or a folder (existing, or written with a trailing /)."""
    src = export_path(job)
    as_folder = str(dest).endswith(("/", "\\")) or Path(dest).is_dir()
    dest = Path(dest)
    if as_folder:
        dest = dest / job.result["filename"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


# ---------------------------------------------------------------- the demo
def load_demo() -> JobRecord:
    """Queue the demo: train a small CNN on scikit-learn's digits, import it and its test set (one job)."""
    ready()
    return service.submit("demo", {})


# added for the dashboard
def export_targets(model_format: str) -> list[str]:
    """The export formats a model of ``model_format`` can give (the Download page offers only these)."""
    from engine.exporters import EXPORT_FORMATS, check_export_request

    targets = []
    for target in EXPORT_FORMATS:
        try:
            check_export_request(model_format, target)
        except InputError:
            continue
        targets.append(target)
    return targets


from storage.records import ChampionRecord  # noqa: E402  (for the dashboard: get_champion_record's type)


def benchmark_schema() -> dict[str, Any]:  # for the dashboard
    """The JSON schema of ``BenchmarkConfig``: the Models page builds its benchmark form from it."""
    from engine.measure.benchmark import BenchmarkConfig

    return BenchmarkConfig.model_json_schema()


def benchmark_runtimes(model_format: str) -> list[str]:  # for the dashboard
    """The runtimes that can time a ``model_format`` model, its default first."""
    from engine.measure.runners import ACCEPTS, DEFAULT_RUNTIME

    default = DEFAULT_RUNTIME.get(model_format)
    return sorted((r for r, formats in ACCEPTS.items() if model_format in formats), key=lambda r: r != default)


def op_class(op_type: str) -> str:  # for the dashboard
    """``quantized``, ``qdq`` or ``float``: how the per-operator profile classes an op type."""
    from engine.measure.profile import op_class as classify

    return classify(op_type)


def latest_benchmarks(model_ids: list[int]) -> dict[int, dict[str, Any]]:  # for the dashboard
    """Each model's latest benchmark summary; models never benchmarked are left out."""
    ready()
    out: dict[int, dict[str, Any]] = {}
    with session_scope() as s:
        for model_id in model_ids:
            latest = measurements.latest_measurement(s, int(model_id), "benchmark")
            if latest is not None:
                out[int(model_id)] = latest.summary
    return out


def recipe_for(model_id: int) -> str:  # for the dashboard
    """The chain of passes from a derived model's root to it, as recipe YAML ``submit_recipe`` reads back.

    Raises InputError for an upload (a root has no passes to save)."""
    from engine.recipes import Recipe, Step, dump_recipe

    model = get_model(model_id)
    chain: list[ModelRecord] = []
    node = model
    while node.parent_id is not None:
        chain.append(node)
        node = get_model(node.parent_id)
    if not chain:
        raise InputError(f"model #{model.id} is an upload, not derived by passes; pick a derived model")
    steps = [Step(pass_name=m.pass_name, config=m.config or {}) for m in reversed(chain)]
    recipe = Recipe(name=f"{node.name}-to-{model.id}", steps=steps)
    return f"# the passes from model #{node.id} ({node.name}) to model #{model.id}\n" + dump_recipe(recipe)


def get_champion_record(root_id: int) -> ChampionRecord | None:  # for the dashboard
    """The family's champion (``model_id``, ``note``, ``chosen_at``), or None when none was chosen."""
    ready()
    with session_scope() as s:
        return catalog.get_champion(s, int(root_id))
