"""SQLAlchemy 2.0 typed tables. Invariants live in constraints, not in comments."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MODEL_FORMATS = ("keras", "savedmodel", "onnx", "tflite")
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
DATASET_ROLES = ("calibration", "fine-tuning", "evaluation")
USER_ROLES = ("viewer", "engineer", "admin")
JOB_KINDS = ("import", "dataset_import", "demo", "optimize", "recipe", "benchmark", "ab_compare", "evaluate",
             "export", "auto", "loadtest")


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no zone, so every timestamp is stored and compared as UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Model(Base):
    """A lineage node: one immutable artifact. Roots are uploads; children name their parent and pass."""

    __tablename__ = "models"
    __table_args__ = (
        CheckConstraint(_in("format", MODEL_FORMATS), name="model_format"),
        CheckConstraint("(parent_id IS NULL) = (pass_name IS NULL)", name="model_derivation"),
        UniqueConstraint("derivation_key", name="uq_model_derivation_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    root_id: Mapped[int | None] = mapped_column(Integer, index=True)
    pass_name: Mapped[str | None] = mapped_column(String(60))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    derivation_key: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    artifact: Mapped[str] = mapped_column(String(300))  # relative path inside the artifact store
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[int | None] = mapped_column(BigInteger)
    flops: Mapped[int | None] = mapped_column(BigInteger)
    inputs: Mapped[list[Any]] = mapped_column(default=list)
    outputs: Mapped[list[Any]] = mapped_column(default=list)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # op histogram, opset, versions, ...
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # fidelity, sparsity, compressed size, ...
    tags: Mapped[list[Any]] = mapped_column(default=list)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    artifact: Mapped[str] = mapped_column(String(300))  # a normalised .npz inside the store
    n_samples: Mapped[int] = mapped_column(Integer)
    x_shape: Mapped[list[Any]] = mapped_column(default=list)
    x_dtype: Mapped[str] = mapped_column(String(20))
    has_labels: Mapped[bool] = mapped_column(default=False)
    n_classes: Mapped[int | None] = mapped_column(Integer)
    source_format: Mapped[str] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(20))  # calibration, fine-tuning or evaluation
    tags: Mapped[list[Any]] = mapped_column(default=list)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class Job(Base):
    """The single source of truth for background work; the queue only wakes workers."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="job_status"),
        CheckConstraint(_in("kind", JOB_KINDS), name="job_kind"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="job_progress"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    timeout_s: Mapped[float] = mapped_column(Float, default=3600.0)
    worker: Mapped[str | None] = mapped_column(String(120))
    target: Mapped[str | None] = mapped_column(String(120))  # a worker label or hardware fingerprint; None: any
    lease_until: Mapped[datetime | None] = mapped_column(DateTime())
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    submitted_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime())


class Hardware(Base):
    __tablename__ = "hardware"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    cpu: Mapped[str] = mapped_column(String(200))
    cores: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # flags, memory, os, versions, peak


class Measurement(Base):
    __tablename__ = "measurements"
    __table_args__ = (CheckConstraint("kind IN ('benchmark', 'evaluate')", name="measurement_kind"),
                      Index("ix_measurements_model_kind", "model_id", "kind", "dataset_id", "id"),
                      Index("ix_measurements_kind_hardware", "kind", "hardware_id", "model_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    hardware_id: Mapped[int | None] = mapped_column(ForeignKey("hardware.id"))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(12))
    runtime: Mapped[str | None] = mapped_column(String(30))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    samples: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class Champion(Base):
    __tablename__ = "champions"

    root_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(Text, default="")
    chosen_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class MachineChampion(Base):
    """The champion chosen for one target machine (a hardware fingerprint) when a family is measured on several;
    the family-wide choice stays in ``champions``."""

    __tablename__ = "machine_champions"

    root_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    hardware_id: Mapped[int] = mapped_column(ForeignKey("hardware.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str | None] = mapped_column(String(120))
    chosen_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class ChampionEvent(Base):
    """Every promotion and demotion, with who, why and the figures at the time (never updated).

    The history outlives the models it names: deleting a model only clears the live links (``root_id``,
    ``model_id``), while ``root_ref``/``model_ref`` and the names keep what was decided. A new model that
    happens to get a deleted model's id never inherits its history, because the live link is what families
    are read by."""

    __tablename__ = "champion_events"
    __table_args__ = (CheckConstraint("action IN ('promote', 'demote')", name="champion_action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), index=True)
    root_ref: Mapped[int] = mapped_column(Integer)
    family_name: Mapped[str | None] = mapped_column(String(200))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    model_ref: Mapped[int | None] = mapped_column(Integer)
    model_name: Mapped[str | None] = mapped_column(String(200))
    hardware_id: Mapped[int | None] = mapped_column(ForeignKey("hardware.id"))
    action: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str | None] = mapped_column(String(120))
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class AuditEvent(Base):
    """Who deleted, archived or renamed what, and when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    who: Mapped[str | None] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(60))  # "model 12", "dataset 3", "user ana"
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class User(Base):
    """A named account; the shared password (solo mode) needs none."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="user_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class Worker(Base):
    """Live workers announce themselves here; the CLI runs jobs in-process when none is alive."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    labels: Mapped[list[Any] | None] = mapped_column(JSON)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(300))  # why it takes fewer jobs (library versions differ)


class CatalogueInfo(Base):
    """Facts about the whole catalogue, such as the library versions its conversions were made with."""

    __tablename__ = "catalogue_info"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
