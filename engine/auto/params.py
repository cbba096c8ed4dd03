"""What a search is asked for, and what it answers: typed, validated once at the edge."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Objective = Literal["latency", "throughput", "size"]
Status = Literal["recommended", "accepted", "rejected", "failed", "skipped", "reference"]


def parse_budget(text: str | int | float) -> float:
    """Seconds from ``90``, ``90s``, ``10m`` or ``1h``; ValueError with a sentence otherwise."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
        if not match:
            raise ValueError(f"budget {text!r} is not a duration; write it like 90s, 10m or 1h")
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if seconds < 10:
        raise ValueError(f"a budget of {seconds:g} s is too short to time even one candidate; give at least 10s")
    return seconds


class AutoParams(BaseModel):
    """The goal of one search. Descriptions are the dashboard's help texts."""

    model_config = ConfigDict(extra="forbid")

    model_id: int = Field(description="The model to search from (the parent).")
    dataset_id: int | None = Field(None, description="Calibration (and, without an eval set, evaluation) data.")
    eval_dataset_id: int | None = Field(None, description="Held-out labelled data the accuracy is measured on.")
    objective: Objective = Field("latency", description="latency: p50 at the batch; throughput: items per "
                                                         "second at the batch; size: bytes as shipped "
                                                         "(gzip-compressed, as a bundle's deflated zip holds "
                                                         "them).")
    max_accuracy_drop: float | None = Field(None, ge=0, le=1, description="Most accuracy (absolute, 0.01 = one "
                                                                           "point) a candidate may lose.")
    min_fidelity: float | None = Field(None, ge=0, le=1, description="Least top-1 agreement with the parent.")
    batch: int = Field(1, ge=1, le=4096, description="Batch size the candidates are timed at.")
    threads: int | None = Field(None, ge=1, le=512, description="Intra-op threads (default: this machine's cores).")
    budget_s: float = Field(600.0, ge=10, le=86_400, description="Wall-clock seconds the search may take.")
    target: str | None = Field(None, description="Where the model will run: cpu (this machine), onnxruntime "
                                                 "or tflite; leave empty to let runtimes compete.")
    synthetic_calibration: bool = Field(False, description="Without a data set, calibrate INT8 on seeded random "
                                                           "inputs (labelled synthetic; no accuracy is claimed).")
    prefix: list[dict[str, Any]] = Field(default_factory=list, description="Pass steps run first (a recipe's "
                                                                           "steps before its auto step).")

    @field_validator("target")
    @classmethod
    def _known_target(cls, value: str | None) -> str | None:
        if value is not None and value not in TARGETS:
            raise ValueError(f"unknown target {value!r}; known targets: {', '.join(TARGETS)}")
        return value

    @model_validator(mode="after")
    def _one_budget(self) -> "AutoParams":
        if self.max_accuracy_drop is not None and self.min_fidelity is not None:
            raise ValueError("give either --max-accuracy-drop or --min-fidelity, not both")
        return self


TARGETS = ("cpu", "onnxruntime", "tflite")


class Candidate(BaseModel):
    """One row of the search's table."""

    id: int | None = None
    recipe: list[dict[str, Any]] = Field(default_factory=list)
    runtime: str = "onnxruntime"
    label: str = ""
    status: Status = "skipped"
    p50_ms: float | None = None
    ci95_ms: list[float] | None = None
    ratio: float | None = None
    ratio_ci95: list[float] | None = None
    size_bytes: int | None = None
    size_gzip_bytes: int | None = None  # compressed, as a bundle (a deflated zip) ships it
    accuracy: float | None = None
    agreement: float | None = None
    reason: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    float_nodes: list[str] = Field(default_factory=list)
    session_trial: bool = False  # a session-settings trial of an artifact another row already measured
    key: str | None = None


class AutoResult(BaseModel):
    """What ``trimline auto --json`` prints (plus the explanation the page shows)."""

    recommended: int | None = None
    parent: int
    reference: int | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    pareto: list[int] = Field(default_factory=list)
    explanation: str = ""
    notes: list[str] = Field(default_factory=list)
    partial: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)
    hardware: dict[str, Any] = Field(default_factory=dict)
    wall_s: float = 0.0
