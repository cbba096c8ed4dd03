"""What a served model is: its versions from the lineage, labels, version policy and runtime settings.

A deployment is saved as one JSON file under ``$TRIMLINE_HOME/serving/deployments/`` (written to a
temp file and renamed), so a running server, the CLI and the Deploy page all read the same thing.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Batching(_Strict):
    """Triton-style dynamic batching: requests queued together run as one batch."""

    enabled: bool = Field(False, description="Merge concurrent requests into one batch (models with a batch dimension).")
    max_batch: int = Field(8, ge=1, le=1024, description="The largest batch the scheduler forms.")
    preferred_sizes: list[int] = Field(default_factory=list, description="Batch sizes dispatched at once when reached.")
    max_queue_delay_ms: float = Field(2.0, ge=0, le=1000, description="How long the first request waits for others.")

    @model_validator(mode="after")
    def _sizes_fit(self) -> "Batching":
        if any(s < 1 or s > self.max_batch for s in self.preferred_sizes):
            raise ValueError(f"preferred batch sizes must lie between 1 and max_batch ({self.max_batch})")
        return self


class Cache(_Strict):
    """An LRU response cache keyed by model, version and a hash of the input tensors."""

    enabled: bool = Field(False, description="Answer repeated identical inputs from memory.")
    max_entries: int = Field(1024, ge=1, description="Most responses kept.")
    max_bytes: int = Field(64 << 20, ge=1024, description="Most bytes of outputs kept.")


class ModelSettings(_Strict):
    """Runtime settings of every version of one served model."""

    intra_threads: int = Field(0, ge=0, le=256, description="Intra-op threads per instance (0: the runtime's default).")
    inter_threads: int = Field(1, ge=1, le=64, description="Inter-op threads (used by the parallel execution mode).")
    execution_mode: Literal["sequential", "parallel"] = Field("sequential", description="ONNX Runtime execution mode.")
    opt_level: Literal["disable", "basic", "extended", "all"] = Field("all", description="Graph optimization level.")
    arena: bool = Field(True, description="ONNX Runtime's CPU memory arena.")
    mem_pattern: bool = Field(True, description="ONNX Runtime's memory pattern planning.")
    instances: int = Field(1, ge=1, le=16, description="Session instances serving requests in parallel.")
    spin_wait: bool = Field(True, description="ONNX Runtime threads spin for work during a run: lower latency on a "
                                              "box of its own, cores taken from neighbours on a shared one.")
    spin_stop: bool = Field(True, description="With spin_wait, threads stop spinning when a run ends, leaving the "
                                              "cores to the response and the next request; off keeps ONNX "
                                              "Runtime's default of spinning on for a while.")
    providers: list[str] = Field(default_factory=lambda: ["CPUExecutionProvider"],
                                 description="Execution providers, tried in order; CPU is always the fallback.")
    batching: Batching = Field(default_factory=Batching)
    cache: Cache = Field(default_factory=Cache)


class Version(_Strict):
    version: int = Field(ge=1)
    model_id: int = Field(ge=1)


class Policy(_Strict):
    """Which versions are loaded: the newest ``n``, a ``specific`` list, or ``all`` (TF Serving's policies)."""

    kind: Literal["latest", "specific", "all"] = "all"
    n: int = Field(1, ge=1)
    versions: list[int] = Field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "Policy":
        """``all``, ``latest`` / ``latest:N``, or ``specific:1,3``."""
        kind, _, arg = text.strip().partition(":")
        try:
            if kind == "latest":
                return cls(kind="latest", n=int(arg or 1))
            if kind == "specific":
                return cls(kind="specific", versions=[int(v) for v in arg.split(",") if v.strip()])
            if kind == "all" and not arg:
                return cls()
        except ValueError:
            pass
        raise ValueError(f"version policy {text!r} is not one of: all, latest:N, specific:1,2")


class Deployment(_Strict):
    name: str
    versions: list[Version]
    labels: dict[str, int] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    settings: ModelSettings = Field(default_factory=ModelSettings)

    @model_validator(mode="after")
    def _consistent(self) -> "Deployment":
        if not NAME_RULE.match(self.name):
            raise ValueError(f"served name {self.name!r} must be letters, digits, '.', '_' or '-' (64 at most)")
        numbers = [v.version for v in self.versions]
        if not numbers:
            raise ValueError(f"model {self.name!r} needs at least one version")
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"model {self.name!r} lists version numbers twice")
        for label, version in self.labels.items():
            if version not in numbers:
                raise ValueError(f"label {label!r} points at version {version}, which model {self.name!r} lacks")
        if self.policy.kind == "specific" and not set(self.policy.versions) <= set(numbers):
            missing = sorted(set(self.policy.versions) - set(numbers))
            raise ValueError(f"the version policy names version(s) {missing} that model {self.name!r} lacks")
        return self

    def served(self) -> list[int]:
        """The version numbers the policy loads, newest first; labelled versions are always loaded."""
        numbers = sorted((v.version for v in self.versions), reverse=True)
        if self.policy.kind == "latest":
            chosen = numbers[: self.policy.n]
        elif self.policy.kind == "specific":
            chosen = [n for n in numbers if n in self.policy.versions]
        else:
            chosen = numbers
        return sorted(set(chosen) | set(self.labels.values()), reverse=True)

    def model_of(self, version: int) -> int:
        return next(v.model_id for v in self.versions if v.version == version)
