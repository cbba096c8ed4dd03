"""Optimize and recipe jobs: run passes in the child, store each output as a child lineage node."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.jobs import contracts as c
from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import artifact_of, model_spec, relative_output, store_model
from engine.lineage import derivation_key, model_identity
from storage.records import ModelRecord


def step_key(parent: ModelRecord, step: c.Step, dataset_sha: str | None) -> str:
    """The derivation key of ``step`` applied to ``parent`` (``engine.lineage``)."""
    return derivation_key(model_identity(parent), step.pass_name, step.config, dataset_sha, step.uses_data)


def _dataset_spec(session, dataset_id: int | None) -> dict[str, Any] | None:  # noqa: ANN001
    from engine.lookup import dataset_or_raise
    from storage import artifacts

    if dataset_id is None:
        return None
    dataset = dataset_or_raise(session, dataset_id)
    return {"id": dataset.id, "path": str(artifacts.resolve(dataset.artifact)), "sha256": dataset.sha256}


def _existing_prefix(session, parent: ModelRecord, steps: list[c.Step],  # noqa: ANN001
                     dataset_sha: str | None) -> list[ModelRecord]:
    """The nodes that already exist for the leading steps: those steps are not recomputed."""
    from storage import catalog

    found = []
    for step in steps:
        node = catalog.find_derived(session, step_key(parent, step, dataset_sha))
        if node is None:
            break
        found.append(node)
        parent = node
    return found


def _prepare(session, job, params: c.OptimizeParams | c.RecipeParams) -> dict[str, Any]:  # noqa: ANN001
    from engine.lookup import model_or_raise

    parent = model_or_raise(session, params.model_id)
    steps = params.all_steps()
    reused = _existing_prefix(session, parent, steps, params.dataset_sha256)
    start = reused[-1] if reused else parent
    extra = {int(i): model_spec(model_or_raise(session, i)) for i in params.model_refs}
    return {"parent": model_spec(start), "steps": [s.model_dump(mode="json", by_alias=True) for s in steps[len(reused):]],
            "reused": len(reused), "dataset": _dataset_spec(session, params.dataset_id), "models": extra}


def _execute(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.artifact import Artifact
    from engine.formats import inspect_model, read_dataset
    from engine.measure.hardware import isa_flags
    from engine.passes import get_pass
    from engine.passes.base import PassContext
    from engine.passes.gate import run_pass

    flags = isa_flags()  # read once here: a pass never probes the hardware itself
    dataset = read_dataset(Path(spec["dataset"]["path"])) if spec.get("dataset") else None
    models = {int(i): artifact_of(m) for i, m in spec.get("models", {}).items()}
    source: Artifact = artifact_of(spec["parent"])
    steps = spec["steps"]
    outputs = []
    for n, step in enumerate(steps):
        share = 1.0 / len(steps)

        def progress(fraction: float, message: str, n: int = n, name: str = step["pass"]) -> None:
            done, total = spec.get("reused", 0), spec.get("reused", 0) + len(steps)
            prefix = f"step {done + n + 1}/{total} {name}: " if total > 1 else f"{name}: "
            ctx.progress(min(0.99, (n + fraction * 0.9) * share), prefix + message)

        pass_spec = get_pass(step["pass"])
        config = pass_spec.config(**step["config"])
        out_dir = ctx.work / f"step{n}"
        out_dir.mkdir()
        pctx = PassContext(scratch=out_dir, dataset=dataset, progress=progress, log=ctx.log, models=models,
                           cpu_flags=flags)
        progress(0.0, "running")
        result = run_pass(pass_spec, source, config, pctx)
        progress(0.95, "inspecting the output")
        outputs.append({**relative_output(result.artifact, ctx.work), "inspection": inspect_model(result.artifact, produced=True),
                        "metrics": result.metrics})
        source = result.artifact
    return {"outputs": outputs}


def _commit(session, job, params: c.OptimizeParams | c.RecipeParams, output: c.StepsOutput,  # noqa: ANN001
            scratch: Path) -> c.StepsResult:
    from engine.lookup import model_or_raise
    from storage import catalog

    parent = model_or_raise(session, params.model_id)
    steps = params.all_steps()
    outputs = [None] * (len(steps) - len(output.outputs)) + list(output.outputs)  # reused steps: no output
    produced = []
    for step, out in zip(steps, outputs):
        key = step_key(parent, step, params.dataset_sha256)
        node = catalog.find_derived(session, key)
        if node is None:
            node = store_model(
                session, scratch, out, name=f"{_root_name(session, parent)} · {step.pass_name}",
                parent_id=parent.id, pass_name=step.pass_name, config=step.config, derivation_key=key,
                metrics={**out.metrics, **_data_used(params)},
            )
        produced.append(node.id)
        parent = node
    return c.StepsResult(model_id=produced[-1], model_ids=produced)


def _data_used(params: c.OptimizeParams | c.RecipeParams) -> dict[str, Any]:
    """The data set a pass calibrated or fine-tuned on, so an evaluation on that same set can be flagged."""
    if params.dataset_id is None:
        return {}
    return {"trained_on_dataset": {"id": params.dataset_id, "sha256": params.dataset_sha256}}


def _root_name(session, model: ModelRecord) -> str:  # noqa: ANN001
    from storage import catalog

    root = catalog.get_model(session, model.root_id)
    return root.name if root else model.name


OPTIMIZE = JobKind(c.OptimizeParams, c.StepsOutput, c.StepsResult, _prepare, _execute, _commit)
RECIPE = JobKind(c.RecipeParams, c.StepsOutput, c.StepsResult, _prepare, _execute, _commit)
