"""The search for a goal: validated before anything is queued, followed live, answered by ids."""
from __future__ import annotations

import json
from typing import Any

from engine.api.common import dataset_meta, get_model, ready
from engine.errors import InputError, validation_sentence
from engine.jobs import service
from storage.records import JobRecord
from storage.settings import get_settings

OBJECTIVES = ("latency", "throughput", "size")


def auto_params(model_id: int, dataset_id: int | None = None, eval_dataset_id: int | None = None,
                objective: str = "latency", max_accuracy_drop: float | None = None,
                min_fidelity: float | None = None, batch: int = 1, threads: int | None = None,
                budget: str | float = "10m", target: str | None = None,
                synthetic_calibration: bool = False, prefix: list[dict[str, Any]] | None = None,
                prefix_format: str | None = None) -> dict[str, Any]:
    """The validated params of a search; InputError with one sentence for anything it cannot run."""
    from pydantic import ValidationError

    from engine.auto.params import TARGETS, AutoParams, parse_budget
    from engine.formats import check_dataset_for_model

    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; choose latency, throughput or size")
    if target is not None and target not in TARGETS:
        raise InputError(f"unknown target {target!r}; choose {', '.join(TARGETS)} (or leave it out to let "
                         "runtimes compete)")
    try:
        budget_s = parse_budget(budget)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    model = get_model(model_id)
    if (prefix_format or model.format) not in ("onnx", "keras", "savedmodel"):
        raise InputError(f"model {model.id} is a {model.format} model; the search starts from ONNX, Keras or "
                         "SavedModel models")
    for ds in (dataset_id, eval_dataset_id):
        if ds is not None:
            check_dataset_for_model(dataset_meta(ds), model.inputs, model.outputs)
    if eval_dataset_id is not None and not dataset_meta(eval_dataset_id)["has_labels"] and min_fidelity is None:
        raise InputError(f"data set {eval_dataset_id} has no labels, so accuracy cannot be measured on it; "
                         "give a labelled --eval-dataset or use --min-fidelity")
    try:
        params = AutoParams(model_id=model.id, dataset_id=dataset_id, eval_dataset_id=eval_dataset_id,
                            objective=objective, max_accuracy_drop=max_accuracy_drop, min_fidelity=min_fidelity,
                            batch=batch, threads=threads, budget_s=budget_s, target=target,
                            synthetic_calibration=synthetic_calibration, prefix=prefix or [])
    except ValidationError as exc:
        raise InputError(validation_sentence(exc, "the search", AutoParams.model_fields, owner_on_values=False)) from None
    return params.model_dump(mode="json")


def submit_auto(**kwargs: Any) -> JobRecord:
    """Validate a search (see ``auto_params``) and queue it; its job may run a little past the budget."""
    params = auto_params(**kwargs)
    return service.submit("auto", params, timeout_s=params["budget_s"] + 600)


def auto_view(job_id: int) -> dict[str, Any]:
    """The search as it stands: the finished result, or the running child's live table (``live: true``)."""
    ready()
    job = service.get(job_id)
    if job.kind != "auto":
        raise InputError(f"job {job_id} is a {job.kind} job, not a search")
    if job.result:
        return {**job.result, "live": False, "status": job.status, "message": job.message}
    live = get_settings().scratch_dir / f"job-{job.id}-{job.attempts}" / "live.json"
    try:
        doc = json.loads(live.read_text())
    except (OSError, ValueError):
        doc = {"candidates": [], "parent": job.params.get("model_id")}
    doc.pop("nodes", None)
    return {**doc, "live": True, "status": job.status, "message": job.message, "error": job.error}
