"""Recipes: an ordered list of pass steps saved as YAML, re-runnable on another model.

```yaml
name: mobile-int8
steps:
  - pass: tf2onnx
    config: {opset: 17}
  - pass: ort-quantize-static
    config: {samples: 200}
```

The last step may be a search instead of a pass: ``- auto: {objective: latency, max_accuracy_drop: 0.01,
budget: 5m}`` runs ``trimline auto`` from the output of the steps before it.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    pass_name: str = Field(alias="pass", description="A registered pass name.")
    config: dict[str, Any] = Field(default_factory=dict, description="The pass's settings.")


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("recipe", description="A name for the recipe.")
    steps: list[Step] = Field(description="The passes to run, in order.")
    auto: dict[str, Any] | None = Field(None, description="A last step searching from the passes' output "
                                                          "(objective, max_accuracy_drop, min_fidelity, batch, "
                                                          "threads, budget, target).")


AUTO_KEYS = ("objective", "max_accuracy_drop", "min_fidelity", "batch", "threads", "budget", "target",
             "synthetic_calibration")


def load_recipe(text: str) -> Recipe:
    """Parse YAML and check every step against the registry; ValueError naming the step on any problem."""
    import yaml

    from engine.passes import PASSES, parse_config

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"the recipe is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise ValueError("a recipe needs a 'steps' list with at least one step")
    unknown = sorted(set(data) - {"name", "steps"})
    if unknown:
        raise ValueError(f"the recipe has unknown keys {', '.join(map(repr, unknown))}; it takes name and steps")
    steps, auto = [], None
    for number, raw in enumerate(data["steps"], start=1):
        if isinstance(raw, dict) and "auto" in raw:
            auto = _auto_step(number, raw, len(data["steps"]))
            continue
        if not isinstance(raw, dict) or "pass" not in raw:
            raise ValueError(f"step {number} needs a 'pass' key naming the pass to run")
        extra = sorted(set(raw) - {"pass", "config"})
        if extra:
            raise ValueError(f"step {number} has unknown keys {', '.join(map(repr, extra))}; a step takes pass and config")
        name, config = str(raw["pass"]), raw.get("config") or {}
        if name not in PASSES:
            raise ValueError(f"step {number}: unknown pass '{name}'; known passes: {', '.join(sorted(PASSES))}")
        if not isinstance(config, dict):
            raise ValueError(f"step {number}: config must be a mapping of settings")
        try:
            parse_config(PASSES[name], config)
        except ValueError as exc:
            raise ValueError(f"step {number}: {exc}") from None
        steps.append(Step(pass_name=name, config=config))
    return Recipe(name=str(data.get("name") or "recipe"), steps=steps, auto=auto)


def _auto_step(number: int, raw: dict[str, Any], total: int) -> dict[str, Any]:
    if number != total:
        raise ValueError(f"step {number}: an auto step searches from what the passes made, so it must come last")
    settings = raw["auto"] or {}
    if set(raw) != {"auto"} or not isinstance(settings, dict):
        raise ValueError(f"step {number}: an auto step is 'auto:' with a mapping of goal settings")
    unknown = sorted(set(settings) - set(AUTO_KEYS))
    if unknown:
        raise ValueError(f"step {number}: auto has no setting {', '.join(map(repr, unknown))}; "
                         f"its settings are: {', '.join(AUTO_KEYS)}")
    return settings


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as YAML that ``load_recipe`` reads back."""
    import yaml

    data = {"name": recipe.name, "steps": [{"pass": s.pass_name, "config": dict(s.config)} for s in recipe.steps]
            + ([{"auto": dict(recipe.auto)}] if recipe.auto is not None else [])}
    return yaml.safe_dump(data, sort_keys=False)


def validate_chain(recipe: Recipe, source_format: str) -> None:
    """Raise ValueError when a step does not accept the format the previous step produces."""
    from engine.passes import PASSES

    current = source_format
    for number, step in enumerate(recipe.steps, start=1):
        spec = PASSES[step.pass_name]
        if current not in spec.accepts:
            raise ValueError(f"step {number} ('{step.pass_name}') accepts {' or '.join(spec.accepts)} models, "
                             f"but receives {current}")
        current = spec.produces
