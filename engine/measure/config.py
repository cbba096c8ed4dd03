"""What a benchmark measures: the grid and the stopping rules, validated at the edge.

Field descriptions are the dashboard's help texts. ``validate_for_model`` holds the rules that need the
model (its format and IO signature), so a job can be refused before it is queued.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.errors import InputError
from engine.measure.hardware import usable_cores
from engine.measure.inputs import check_batch
from engine.measure.runners import DEFAULT_RUNTIME, check_runtime


class BenchmarkConfig(BaseModel):
    """How to measure. Unknown keys are refused; descriptions are the dashboard's help texts."""

    model_config = ConfigDict(extra="forbid")

    runtime: Literal["onnxruntime", "tensorflow", "tflite", "keras-predict"] | None = Field(
        None, description="Runtime to time the model in; empty picks the model format's own "
                          "(ONNX → onnxruntime, Keras/SavedModel → tensorflow, TFLite → tflite).")
    batches: list[int] = Field([1], description="Batch sizes to measure, one grid axis.")
    threads: list[int] = Field([usable_cores()],
                               description="Intra-op thread counts to measure, one grid axis (default: the "
                                           "cores this process may use).")
    opt_levels: list[Literal["disable", "basic", "extended", "all"]] = Field(
        ["all"], description="ONNX Runtime graph optimization levels to measure.")
    execution_modes: list[Literal["sequential", "parallel"]] = Field(
        ["sequential"], description="ONNX Runtime execution modes (parallel runs independent branches at once).")
    warmup: int = Field(5, ge=0, description="Untimed runs before timing each cell (caches, lazy init).")
    min_runs: int = Field(20, ge=1, description="Timed runs each cell makes at least.")
    min_time_s: float = Field(0.5, ge=0, description="Seconds of timed work a cell does before its confidence "
                                                      "rule may stop it (a tiny model's first runs are not "
                                                      "its steady state).")
    max_runs: int = Field(100_000, ge=1, description="Timed runs each cell makes at most.")
    time_budget_s: float = Field(2.0, gt=0, description="Seconds of timing per cell once min_runs are done.")
    target_rel_ci: float = Field(0.02, ge=0, description="Stop a cell early once the 95% CI half-width "
                                                         "of its median is below this fraction of it.")
    concurrency: int = Field(0, ge=0, description="Client threads for the load test (0 = no load test).")
    profile: bool = Field(False, description="Also record a per-operator profile (onnxruntime only).")
    dim_values: dict[str, int] = Field({}, description="Sizes for named dynamic dimensions other than the batch.")

    @field_validator("batches", "threads")
    @classmethod
    def _positive(cls, values: list[int], info) -> list[int]:
        bad = [v for v in values if v < 1]
        if bad:
            raise ValueError(f"{info.field_name} must be positive integers, got {bad[0]}")
        return list(dict.fromkeys(values))

    @model_validator(mode="after")
    def _grid(self) -> "BenchmarkConfig":
        for name in ("batches", "threads", "opt_levels", "execution_modes"):
            if not getattr(self, name):
                raise ValueError(f"the benchmark grid is empty: {name} needs at least one value")
        if self.min_runs > self.max_runs:
            raise ValueError(f"min_runs ({self.min_runs}) cannot exceed max_runs ({self.max_runs})")
        return self

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "BenchmarkConfig":
        """Validate ``data``; raises InputError carrying the first problem's sentence."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                raise InputError(f"unknown benchmark option {where!r}; known options: "
                                 f"{', '.join(cls.model_fields)}") from exc
            raise InputError(message if first["type"] == "value_error" else f"{where}: {message}") from exc


def validate_for_model(config: BenchmarkConfig, fmt: str, inputs: list[dict[str, Any]]) -> str:
    """The runtime ``config`` resolves to for a ``fmt`` model with signature ``inputs``; raises InputError
    with a sentence when the grid cannot be measured on it (wrong runtime, fixed batch, ORT-only options)."""
    runtime = config.runtime or DEFAULT_RUNTIME[fmt]
    check_runtime(runtime, fmt)
    if runtime != "onnxruntime":
        if config.opt_levels != ["all"] or config.execution_modes != ["sequential"]:
            raise InputError("opt_levels and execution_modes apply to the onnxruntime runtime only; "
                             f"leave them at their defaults for {runtime}")
        if config.profile:
            raise InputError(f"per-operator profiles are recorded for onnxruntime only, not {runtime}")
    for batch in config.batches:
        check_batch(inputs, batch)
    return runtime
