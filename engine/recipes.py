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

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from engine.errors import first_line


class Step(BaseModel):
    """One pass with its settings; the settings are checked against the pass's typed config."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    pass_name: str = Field(alias="pass", description="A registered pass name.")
    config: dict[str, Any] = Field(default_factory=dict, description="The pass's settings.")
    _typed: Any = PrivateAttr(None)

    @field_validator("pass_name")
    @classmethod
    def _registered(cls, name: str) -> str:
        from engine.passes import PASSES

        if name not in PASSES:
            raise ValueError(f"unknown pass '{name}'; known passes: {', '.join(sorted(PASSES))}")
        return name

    @field_validator("config", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("config must be a mapping of settings")
        return value

    @model_validator(mode="after")
    def _settings(self) -> "Step":
        from engine.passes import PASSES, parse_config

        self._typed = parse_config(PASSES[self.pass_name], self.config)  # ValueError: the pass's own sentence
        return self

    @property
    def typed_config(self) -> Any:
        """The step's settings as the pass's typed config (parsed once, when the step was read)."""
        return self._typed


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("recipe", description="A name for the recipe.")
    steps: list[Step] = Field(default_factory=list, description="The passes to run, in order.")
    auto: dict[str, Any] | None = Field(None, description="A last step searching from the passes' output "
                                                          "(objective, max_accuracy_drop, min_fidelity, batch, "
                                                          "threads, budget, target).")

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value: Any) -> str:
        return str(value or "recipe")

    @model_validator(mode="after")
    def _something_to_run(self) -> "Recipe":
        if not self.steps and self.auto is None:
            raise ValueError("a recipe needs a 'steps' list with at least one step")
        return self


AUTO_KEYS = ("objective", "max_accuracy_drop", "min_fidelity", "batch", "threads", "budget", "target",
             "synthetic_calibration")


def load_recipe(text: str) -> Recipe:
    """Parse YAML into a checked Recipe (every step's pass and settings); ValueError naming the step."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"the recipe is not valid YAML ({first_line(exc)})") from None
    if not isinstance(data, dict):
        data = {}
    steps = data.get("steps")
    if isinstance(steps, list) and any(isinstance(raw, dict) and "auto" in raw for raw in steps):
        number = next(n for n, raw in enumerate(steps, start=1) if isinstance(raw, dict) and "auto" in raw)
        data = {**data, "steps": steps[:number - 1], "auto": _auto_step(number, steps[number - 1], len(steps))}
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_sentence(exc)) from None


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


def _sentence(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc, kind = err["loc"], err["type"]
    message = str((err.get("ctx") or {}).get("error") or err["msg"]).removeprefix("Value error, ")
    if not loc or loc[0] != "steps":
        if kind == "extra_forbidden":
            return f"the recipe has unknown keys {loc[0]!r}; it takes name and steps"
        return message if not loc else f"the recipe's {loc[0]}: {message}"
    if len(loc) < 2:
        return "a recipe needs a 'steps' list with at least one step"
    where = f"step {int(loc[1]) + 1}"
    if kind == "missing" and loc[2:] == ("pass",):
        return f"{where} needs a 'pass' key naming the pass to run"
    if kind == "extra_forbidden":
        return f"{where} has unknown keys {loc[2]!r}; a step takes pass and config"
    if kind in ("model_type", "dict_type") and len(loc) == 2:
        return f"{where} needs a 'pass' key naming the pass to run"
    return f"{where}: {message}"


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as YAML that ``load_recipe`` reads back."""
    import yaml

    data = {"name": recipe.name, "steps": [{"pass": s.pass_name, "config": dict(s.config)} for s in recipe.steps]
            + ([{"auto": dict(recipe.auto)}] if recipe.auto is not None else [])}
    return yaml.safe_dump(data, sort_keys=False)
