"""Export jobs: build the requested file in the child, store it content-addressed, hand back its id."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.jobs import contracts as c
from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import artifact_of, model_spec


def _recipe(session, model) -> list[dict[str, Any]]:  # noqa: ANN001
    from storage import catalog

    return [{"pass": m.pass_name, "config": m.config} for m in catalog.lineage(session, model.id)[1:]]


def _deployment(session, model_id: int) -> dict[str, Any] | None:  # noqa: ANN001
    """The session settings of the newest search that recommended this model (threads, mode, opt level)."""
    from storage import jobs as jobstore

    for job in jobstore.list_jobs(session, limit=500, status="succeeded"):
        if job.kind == "auto" and (job.result or {}).get("recommended") == model_id:
            return {"settings": job.result.get("settings"), "why": job.result.get("explanation"), "search_job": job.id}
    return None


def _prepare(session, job, params: c.ExportParams) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise
    from storage import catalog, measurements

    model = model_or_raise(session, params.model_id)
    bench = measurements.latest_measurement(session, model.id, "benchmark", exclude_runtime="server-http")
    evaluation = measurements.latest_measurement(session, model.id, "evaluate")
    hardware = measurements.get_hardware(session, bench.hardware_id) if bench and bench.hardware_id else None
    manifest = {
        "model": {k: v for k, v in model.to_json().items() if k != "info"},
        "recipe": _recipe(session, model),
        "benchmark": {**bench.summary, "hardware": hardware.to_json() if hardware else {}} if bench else None,
        "evaluation": evaluation.summary if evaluation else None,
        "champion": getattr(catalog.get_champion(session, model.root_id), "model_id", None) == model.id,
        "deployment": _deployment(session, model.id),
    }
    if params.deployment:  # a served model's versions, labels and settings (engine.serving.layouts)
        manifest["serving"] = _serving(session, params.deployment)
    if params.ensemble:  # a composed chain as a Triton ensemble of its members (engine.serving.ensemble)
        manifest["ensemble"] = _chain(session, model)
    return {"model": model_spec(model), "target": params.format, "manifest": manifest}


def _serving(session, deployment: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise

    versions = []
    for entry in deployment["versions"]:
        model = model_or_raise(session, entry["model_id"])
        spec = model_spec(model)
        versions.append({"version": entry["version"], "path": spec["path"], "format": model.format,
                         "model": {k: v for k, v in model.to_json().items() if k in ("inputs", "outputs", "name")}})
    return {**{k: deployment[k] for k in ("name", "labels", "policy", "settings")}, "versions": versions}


def _chain(session, model) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise
    from engine.passes.compose import wiring

    first = model_or_raise(session, model.parent_id)
    second = model_or_raise(session, int(model.config["second"]))
    pairs = model.metrics.get("io_map") or wiring([o["name"] for o in first.outputs], [i["name"] for i in second.inputs],
                                                 model.config.get("io_map") or [])
    members = {k: {key: spec[key] for key in ("path", "format", "inputs", "outputs")}
               for k, spec in (("composed", model_spec(model)), ("first", model_spec(first)),
                               ("second", model_spec(second)))}
    return {**members, "pairs": [list(p) for p in pairs]}


def _execute(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.exporters import build_export

    ctx.progress(0.1, f"building the {spec['target']} export")
    if spec["manifest"].get("serving"):  # a served model: every version with its labels and settings
        from engine.serving.layouts import build_layout

        path = build_layout(spec["target"], spec["manifest"]["serving"], ctx.work)
    elif spec["manifest"].get("ensemble"):
        from engine.exporters import _zip_dir, export_name
        from engine.serving.ensemble import build_ensemble

        name, stage = export_name(spec["manifest"]), ctx.work / "stage"
        build_ensemble(name, spec["manifest"]["ensemble"], stage)
        path = _zip_dir(stage, ctx.work / f"{name}.triton-ensemble.zip")
    else:
        path = build_export(artifact_of(spec["model"]), spec["target"], spec["manifest"], ctx.work)
    return {"path": str(path.resolve().relative_to(ctx.scratch.resolve())), "filename": path.name}


def _commit(session, job, params: c.ExportParams, output: c.ExportOutput, scratch: Path) -> c.ExportResult:  # noqa: ANN001
    from storage import artifacts

    stored = artifacts.put(scratch / output.path, name=output.filename)
    return c.ExportResult(model_id=params.model_id, format=params.format, artifact=stored.relpath,
                          filename=output.filename, sha256=stored.sha256, size_bytes=stored.size_bytes)


EXPORT = JobKind(c.ExportParams, c.ExportOutput, c.ExportResult, _prepare, _execute, _commit)
