"""Passes and recipes: validated at the edge, queued as jobs, or answered by an existing node."""
from __future__ import annotations

from typing import Any

from engine.api.common import Submission, dataset_meta, get_model
from engine.errors import InputError
from engine.jobs import service
from storage import catalog
from storage.db import session_scope
from storage.records import JobRecord


def list_passes() -> list[dict[str, Any]]:
    from engine.passes import PASSES

    return [spec.describe() for spec in PASSES.values()]


def _student_refs(config: dict[str, Any]) -> list[int]:
    """Other stored models a config names (distill's student, compose's second model); each must exist."""
    refs = [int(config[k]) for k in ("student", "second") if config.get(k) is not None]
    for ref in refs:
        get_model(ref)
    return refs


def submit_optimize(model_id: int, pass_name: str, raw_config: dict[str, Any] | None = None,
                    dataset_id: int | None = None) -> Submission:
    """Validate a pass request and queue it, or return the existing node for an identical derivation."""
    from engine.jobs.contracts import OptimizeParams
    from engine.jobs.kinds.optimizing import step_key
    from engine.passes import PASSES, validate_request

    parent = get_model(model_id)
    meta = dataset_meta(dataset_id)
    config = validate_request(pass_name, raw_config or {}, parent.format, meta)
    if meta is not None:
        from engine.formats import check_dataset_for_model

        check_dataset_for_model(meta, parent.inputs, parent.outputs)
    config_json = config.model_dump(mode="json")
    params = OptimizeParams(model_id=parent.id, pass_name=pass_name, config=config_json,
                            uses_data=PASSES[pass_name].needs_for(config) != "nothing", dataset_id=dataset_id,
                            dataset_sha256=meta["sha256"] if meta else None, model_refs=_student_refs(config_json))
    key = step_key(parent, params.all_steps()[0], params.dataset_sha256)
    with session_scope() as s:
        existing = catalog.find_derived(s, key)
    if existing is not None:
        return Submission(job=None, existing_model_id=existing.id)
    return Submission(job=service.submit("optimize", params))


def submit_recipe(model_id: int, recipe_text: str, dataset_id: int | None = None) -> JobRecord:
    """Validate every step (typed configs, format chain, data needs) and queue the recipe as one job."""
    from engine.jobs.contracts import RecipeParams, Step as JobStep
    from engine.passes import PASSES, check_request
    from engine.recipes import load_recipe

    parent = get_model(model_id)
    meta = dataset_meta(dataset_id)
    try:
        recipe = load_recipe(recipe_text)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    steps, current = [], parent.format
    for number, step in enumerate(recipe.steps, start=1):
        spec, config = PASSES[step.pass_name], step.typed_config
        try:
            check_request(spec, config, current, meta)
        except InputError as exc:
            raise InputError(f"recipe step {number}: {exc}") from None
        steps.append(JobStep(pass_name=step.pass_name, config=config.model_dump(mode="json"),
                             uses_data=spec.needs_for(config) != "nothing"))
        current = spec.produces
    if recipe.auto is not None:
        from engine.api.auto import submit_auto

        if current not in ("onnx", "keras", "savedmodel"):
            raise InputError(f"recipe: the auto step searches from ONNX, Keras or SavedModel models; the steps "
                             f"before it make a {current} model")
        return submit_auto(model_id=parent.id, dataset_id=dataset_id, prefix_format=current,
                           prefix=[{"pass": s.pass_name, "config": s.config} for s in steps], **recipe.auto)
    refs = sorted({r for step in steps for r in _student_refs(step.config)})
    return service.submit("recipe", RecipeParams(model_id=parent.id, steps=steps, dataset_id=dataset_id,
                                                 dataset_sha256=meta["sha256"] if meta else None, model_refs=refs))


def recipe_for(model_id: int) -> str:
    """The chain of passes from a derived model's root to it, as recipe YAML ``submit_recipe`` reads back.

    Raises InputError for an upload (a root has no passes to save)."""
    from engine.recipes import Recipe, Step, dump_recipe

    model = get_model(model_id)
    with session_scope() as s:
        root, *derived = catalog.lineage(s, model.id)
    if not derived:
        raise InputError(f"model #{model.id} is an upload, not derived by passes; pick a derived model")
    steps = [Step(pass_name=m.pass_name, config=m.config or {}) for m in derived]
    recipe = Recipe(name=f"{root.name}-to-{model.id}", steps=steps)
    return f"# the passes from model #{root.id} ({root.name}) to model #{model.id}\n" + dump_recipe(recipe)
