"""What a benchmark measures: the grid and the stopping rules, validated at the edge.

Field descriptions are the dashboard's help texts. ``validate_for_model`` holds the rules that need the
model (its format and IO signature), so a job can be refused before it is queued.
"""
from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.errors import InputError
from engine.measure.hardware import usable_cores
from engine.measure.inputs import check_batch, concrete_shape, dim_key
from engine.measure.runners import DEFAULT_RUNTIME, check_runtime


MAX_BATCH = 65536


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
    dim_values: dict[str, int] = Field({}, description="Sizes of dynamic dimensions other than the batch: by name "
                                                       "(seq), or input:position for an unnamed one (input_layer:1).")

    @field_validator("batches", "threads")
    @classmethod
    def _positive(cls, values: list[int], info) -> list[int]:
        bad = [v for v in values if v < 1]
        if bad:
            raise ValueError(f"{info.field_name} must be positive integers, got {bad[0]}")
        huge = [v for v in values if info.field_name == "batches" and v > MAX_BATCH]
        if huge:
            raise ValueError(f"batch {huge[0]} is beyond what a latency measurement means; use at most {MAX_BATCH}")
        return list(dict.fromkeys(values))

    @field_validator("threads")
    @classmethod
    def _machine_threads(cls, values: list[int]) -> list[int]:
        cores = os.cpu_count() or 1
        too_many = [v for v in values if v > cores]
        if too_many:
            raise ValueError(f"threads {too_many[0]} is more than this machine's {cores} cores; measure at most "
                             f"{cores} threads")
        return values

    @field_validator("concurrency")
    @classmethod
    def _machine_clients(cls, value: int) -> int:
        limit = max_concurrency()
        if value > limit:
            raise ValueError(f"concurrency {value} is more client threads than this machine can drive "
                             f"meaningfully; use at most {limit} (8 per core, 64 at most)")
        return value

    @model_validator(mode="after")
    def _grid(self) -> "BenchmarkConfig":
        for name in ("batches", "threads", "opt_levels", "execution_modes"):
            if not getattr(self, name):
                raise ValueError(f"the benchmark grid is empty: {name} needs at least one value")
        if self.min_runs > self.max_runs:
            raise ValueError(f"min_runs ({self.min_runs}) cannot exceed max_runs ({self.max_runs})")
        return self


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
    for spec in inputs:  # every dynamic dimension has a size before anything is queued
        concrete_shape(spec, 1, config.dim_values)
    _check_memory(config, inputs)
    return runtime


def max_concurrency() -> int:
    return min(64, 8 * (os.cpu_count() or 1))


def _check_memory(config: BenchmarkConfig, inputs: list[dict[str, Any]]) -> None:
    """Refuse, before queueing, a batch whose input tensors alone would not fit the job's memory
    (every load-test client holds its own copy)."""
    import numpy as np

    from storage.settings import get_settings

    per_sample = 0
    for spec in inputs:
        dims = [d if isinstance(d, int) and d > 0 else int(config.dim_values.get(dim_key(spec, i), 1))
                for i, d in enumerate(list(spec.get("shape") or [])) if i > 0]
        try:
            itemsize = np.dtype(str(spec.get("dtype", "float32"))).itemsize
        except TypeError:
            itemsize = 4
        per_sample += int(np.prod(dims, dtype=np.float64)) * itemsize
    budget = get_settings().job_memory_mb << 20
    copies = max(1, config.concurrency)
    for batch in config.batches:
        need = per_sample * batch * copies
        if need > budget // 2:
            raise InputError(f"batch {batch} needs {need / 2**20:,.0f} MB of input tensors"
                             f"{f' for {copies} clients' if copies > 1 else ''}, more than half the job's memory "
                             f"limit of {budget >> 20} MB (TRIMLINE_JOB_MEMORY_MB); use a smaller batch")
