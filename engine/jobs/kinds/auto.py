"""The ``auto`` job: search for the fastest (or smallest) artifact within an accuracy budget.

The child builds and measures every candidate (``engine.auto.search``); the commit stores each new
candidate as a lineage node under its derivation key (a repeated search finds them and rebuilds
nothing), records the accuracy it measured and the latency it timed (``engine.auto.measured``), and answers
with ids. A cancelled or timed-out search
commits what it had finished (``live.json``), marked partial.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.auto.params import AutoParams, AutoResult
from engine.jobs.contracts import ModelOutput, SearchOutput
from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import model_spec, store_hardware, store_model
from engine.lineage import model_identity


def _dataset(session, dataset_id: int | None) -> dict[str, Any] | None:  # noqa: ANN001
    from engine.lookup import dataset_or_raise
    from storage import artifacts

    if dataset_id is None:
        return None
    d = dataset_or_raise(session, dataset_id)
    return {"id": d.id, "path": str(artifacts.resolve(d.artifact)), "sha256": d.sha256}


def _data_used(session, params: AutoParams, node: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    """The calibration set a candidate was calibrated or trained on (as a manual pass records it), so the Data
    sets page lists it and an accuracy later measured on that same set is flagged as not held-out."""
    if not node.get("used_data") or params.dataset_id is None:
        return {}
    from storage import catalog

    dataset = catalog.get_dataset(session, params.dataset_id)
    return {"trained_on_dataset": {"id": params.dataset_id, "sha256": dataset.sha256 if dataset else None}}


def _prepare(session, job, params: AutoParams) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise
    from storage import artifacts, catalog
    from storage.settings import get_settings

    parent = model_or_raise(session, params.model_id)
    family = catalog.list_models(session, root_id=parent.root_id)
    existing = {m.derivation_key: {"id": m.id, "path": str(artifacts.resolve(m.artifact)), "format": m.format}
                for m in family if m.derivation_key}
    return {"parent": model_spec(parent), "parent_identity": model_identity(parent),
            "existing": existing, "dataset": _dataset(session, params.dataset_id),
            "eval_dataset": _dataset(session, params.eval_dataset_id), "memory_mb": get_settings().job_memory_mb}


def _execute(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.auto.search import run_search

    return run_search(spec, ctx)


def _commit(session, job, params: AutoParams, output: SearchOutput, scratch: Path) -> AutoResult:  # noqa: ANN001
    from engine.lookup import model_or_raise
    from storage import catalog, measurements

    result = output.model_dump(mode="json")
    parent = model_or_raise(session, params.model_id)
    root = catalog.get_model(session, parent.root_id) or parent
    ids: dict[str, int] = {k: int(v) for k, v in (result.get("known") or {}).items()}
    for node in result.get("nodes", []):
        stored = catalog.find_derived(session, node["key"])
        if stored is None:
            parent_id = ids[node["parent_key"]] if node["parent_key"] else parent.id
            artifact = ModelOutput.model_validate({k: node[k] for k in ModelOutput.model_fields if k in node})
            stored = store_model(session, scratch, artifact, name=f"{root.name} · {node['pass']}", parent_id=parent_id,
                                 pass_name=node["pass"], config=node["config"], derivation_key=node["key"],
                                 metrics={**node.get("metrics", {}), **_data_used(session, params, node)})
        ids[node["key"]] = stored.id
    out = AutoResult.model_validate({k: v for k, v in result.items() if k in AutoResult.model_fields})
    for c in out.candidates:
        c.id = ids.get(c.key) if c.key else (parent.id if c.status == "reference" or c.session_trial else None)
    rec_key = result.get("recommended_key")
    out.recommended = ids.get(rec_key) if rec_key else (parent.id if "recommended_key" in result else None)
    out.reference = next((c.id for c in out.candidates if c.status == "reference"), parent.id)
    out.pareto = [ids[k] if k else parent.id for k in result.get("pareto_keys", []) if k is None or k in ids]
    eval_id = params.eval_dataset_id or params.dataset_id
    for c in out.candidates:
        if c.id is not None and eval_id is not None and not c.session_trial and (
                c.accuracy is not None or c.agreement is not None):
            measurements.add_measurement(session, model_id=c.id, job_id=job.id, dataset_id=eval_id, kind="evaluate",
                                         summary={"metrics": {"accuracy": c.accuracy}, "fidelity": {"agreement": c.agreement},
                                                  "source": "auto"})
    _store_timings(session, job, result, ids, parent.id, out.reference)
    return out


def _store_timings(session, job, result: dict[str, Any], ids: dict[str, int], parent_id: int,  # noqa: ANN001
                   reference_id: int | None) -> None:
    """Each timed model's timing as a ``benchmark`` on the search's hardware, so Compare and Download show
    the figures the search decided on (a later benchmark job is newer, and so the latest)."""
    from engine.auto.measured import benchmark_summary
    from storage import catalog, measurements

    timings = result.get("timings") or []
    hw = result.get("hardware") or {}
    if not timings or not hw:
        return
    hardware = store_hardware(session, hw)
    for record in timings:
        model_id = ids.get(record["key"]) if record.get("key") else parent_id
        if model_id is None:
            continue
        if record.get("size_bytes") is None:  # a Keras parent's ONNX form: its size is the stored file's
            stored = catalog.get_model(session, model_id)
            record = {**record, "size_bytes": stored.size_bytes if stored else None}
        summary, samples = benchmark_summary(record, job.id, model_id, reference_id)
        measurements.add_measurement(session, model_id=model_id, job_id=job.id, hardware_id=hardware.id,
                                     kind="benchmark", runtime=summary["runtime"], summary=summary, samples=samples)


def _commit_partial(session, job, params: AutoParams, output: SearchOutput,  # noqa: ANN001
                    scratch: Path) -> AutoResult:
    """What a cancelled or timed-out search had finished: its nodes stored, no recommendation."""
    result = {**output.model_dump(mode="json"), "partial": True}
    result.pop("recommended_key", None)
    return _commit(session, job, params, SearchOutput.model_validate(result), scratch)


AUTO = JobKind(AutoParams, SearchOutput, AutoResult, _prepare, _execute, _commit, exclusive=True,
               partial=_commit_partial)
