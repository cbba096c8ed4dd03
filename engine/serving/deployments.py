"""Deployments on disk: one JSON file per served name under ``$TRIMLINE_HOME/serving/deployments``.

Written atomically (temp file, fsync, rename) so a server reloading one never reads half a file.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from engine.artifact import Artifact
from engine.errors import InputError, NotFoundError
from engine.serving.settings import NAME_RULE, Deployment
from storage.settings import get_settings


def serving_dir() -> Path:
    folder = get_settings().home / "serving"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(name: str) -> Path:
    if not NAME_RULE.match(name):
        raise InputError(f"served name {name!r} must be letters, digits, '.', '_' or '-' (64 at most)")
    return serving_dir() / "deployments" / f"{name}.json"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save(deployment: Deployment) -> Path:
    """Save ``deployment``, after staging what it serves where a walled-in server of it may read
    (``engine.serving.staging``: the server reads that folder, never the database or the store)."""
    from engine.serving import staging

    path = _path(deployment.name)
    staging.stage(deployment, artifact_for)
    _write(path, deployment.model_dump_json(indent=2))
    return path


def load(name: str) -> Deployment:
    path = _path(name)
    if not path.is_file():
        raise NotFoundError(f"no deployment named {name!r}; start one with `trimline serve ID --name {name}`")
    try:
        return Deployment.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as exc:
        raise InputError(f"the deployment file {path} is damaged ({str(exc).splitlines()[0]})") from None


def names() -> list[str]:
    folder = get_settings().home / "serving" / "deployments"  # looking creates nothing
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def artifact_for(model_id: int) -> Artifact:
    """The stored artifact of a model, looked up by id."""
    from storage import artifacts, catalog
    from storage.db import session_scope

    with session_scope() as s:
        model = catalog.get_model(s, int(model_id))
    if model is None:
        raise NotFoundError(f"model {model_id} does not exist")
    return Artifact(artifacts.resolve(model.artifact), model.format)
