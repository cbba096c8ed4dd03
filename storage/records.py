"""Plain records returned by queries. Pages and the CLI never see ORM objects."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def fingerprint_of(cpu: str, cores: int, details: dict[str, Any]) -> str:
    """Hardware identity: CPU, cores, ISA flags and library versions (not the measured peak). Here, beside
    the records, so that a job's child can compute it without loading the database layer."""
    key = {"cpu": cpu, "cores": cores, **{k: details.get(k) for k in ("flags", "memory_gb", "os", "versions")}}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    format: str
    parent_id: int | None
    root_id: int
    pass_name: str | None
    config: dict[str, Any]
    derivation_key: str | None
    sha256: str
    artifact: str
    size_bytes: int
    params: int | None
    flops: int | None
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    info: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime
    tags: list[str] = field(default_factory=list)
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """The CLI contract's model document."""
        return {
            "id": self.id,
            "name": self.name,
            "format": self.format,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "params": self.params,
            "flops": self.flops,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "parent_id": self.parent_id,
            "root_id": self.root_id,
            "pass": self.pass_name,
            "config": self.config,
            "info": self.info,
            "metrics": self.metrics,
            "tags": self.tags,
            "archived": self.archived,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    sha256: str
    artifact: str
    n_samples: int
    x_shape: list[int]
    x_dtype: str
    has_labels: bool
    n_classes: int | None
    source_format: str
    created_at: datetime
    role: str | None = None
    tags: list[str] = field(default_factory=list)
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = _iso(self.created_at)
        return data


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    status: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    progress: float
    message: str
    attempts: int
    max_attempts: int
    timeout_s: float
    worker: str | None
    lease_until: datetime | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    target: str | None = None  # a worker label or fingerprint the job must run on
    submitted_by: str | None = None  # the signed-in account that submitted it (None: the CLI, or no login)

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "error": self.error,
            "params": self.params,
            "result": self.result,
            "attempts": self.attempts,
            "worker": self.worker,
            "target": self.target,
            "submitted_by": self.submitted_by,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


@dataclass(frozen=True)
class WorkerRecord:
    id: str
    host: str
    pid: int
    labels: list[str]
    fingerprint: str | None
    versions: dict[str, Any]
    note: str | None
    started_at: datetime
    heartbeat_at: datetime
    job: int | None  # the job it is running now

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "host": self.host, "labels": self.labels, "fingerprint": self.fingerprint,
                "heartbeat": _iso(self.heartbeat_at), "job": self.job, "pid": self.pid, "versions": self.versions,
                "note": self.note, "started_at": _iso(self.started_at)}


@dataclass(frozen=True)
class MeasurementRecord:
    id: int
    model_id: int
    job_id: int | None
    hardware_id: int | None
    dataset_id: int | None
    kind: str
    runtime: str | None
    summary: dict[str, Any]
    created_at: datetime
    samples: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self, with_samples: bool = False) -> dict[str, Any]:
        data = {
            "id": self.id,
            "model_id": self.model_id,
            "job_id": self.job_id,
            "hardware_id": self.hardware_id,
            "dataset_id": self.dataset_id,
            "kind": self.kind,
            "runtime": self.runtime,
            "summary": self.summary,
            "created_at": _iso(self.created_at),
        }
        if with_samples:
            data["samples"] = self.samples
        return data


@dataclass(frozen=True)
class HardwareRecord:
    id: int
    fingerprint: str
    cpu: str
    cores: int
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "fingerprint": self.fingerprint, "cpu": self.cpu, "cores": self.cores, **self.details}


@dataclass(frozen=True)
class ChampionRecord:
    root_id: int
    model_id: int
    note: str
    chosen_at: datetime
    hardware_id: int | None = None  # the target machine it was chosen for; None: the family-wide choice
    who: str | None = None
