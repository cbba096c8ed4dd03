"""Helpers shared by job kinds: resolving stored things to paths, and storing outputs and hardware."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.artifact import Artifact
from engine.jobs.contracts import ModelOutput
from storage.records import HardwareRecord, ModelRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def model_spec(model: ModelRecord) -> dict[str, Any]:
    """What a child needs to open a stored model."""
    from storage import artifacts

    return {"id": model.id, "path": str(artifacts.resolve(model.artifact)), "format": model.format,
            "inputs": model.inputs, "outputs": model.outputs, "flops": model.flops,
            "flops_at": (model.info or {}).get("flops_at"), "size_bytes": model.size_bytes, "pass": model.pass_name}


def artifact_of(spec: dict[str, Any]) -> Artifact:
    return Artifact(Path(spec["path"]), spec["format"])


def relative_output(artifact: Artifact, work: Path) -> dict[str, str]:
    """Describe a child's output artifact by its path relative to the scratch folder."""
    return {"path": str(Path(artifact.path).resolve().relative_to(work.parent.resolve())), "format": artifact.format}


def store_model(session: Session, scratch: Path, output: ModelOutput, **fields: Any) -> ModelRecord:
    """Move a child's output into the artifact store and insert its lineage node (same transaction)."""
    from storage import artifacts, catalog

    src = scratch / output.path
    stored = artifacts.put(src, name=src.name)
    info = output.inspection
    return catalog.add_model(
        session, format=output.format, sha256=stored.sha256, artifact=stored.relpath,
        size_bytes=stored.size_bytes, params=info.get("params"), flops=info.get("flops"),
        inputs=info.get("inputs", []), outputs=info.get("outputs", []), info=info.get("info", {}), **fields,
    )


def logical_cores(hardware: dict[str, Any]) -> int:
    """The logical core count of a hardware fingerprint; older fingerprints give ``cores`` as a plain number."""
    cores = hardware.get("cores")
    return cores.get("logical", 0) if isinstance(cores, dict) else int(cores or 0)


def store_hardware(session: Session, hardware: dict[str, Any]) -> HardwareRecord:
    """Find or insert the hardware row a measurement was taken on (same transaction); an unnamed CPU is 'unknown'."""
    from storage import measurements

    return measurements.upsert_hardware(session, hardware.get("cpu", "unknown"), logical_cores(hardware), hardware)
