"""What a walled-in server may read: one folder per served name, ``$TRIMLINE_HOME/serving/served/NAME/``.

Saving a deployment stages it there: ``models/MODEL_ID/`` holds the artifact of every version the policy
serves (hard links into the artifact store, copies where the store lies on another file system), then
``models/MODEL_ID.json`` records its format, then ``deployment.json`` is written, then the models it no
longer serves are removed. A server is given read access beneath the folders of the names it serves, and
nothing else of the studio: not the store, not the database, not another deployment's models. A version
promoted while it serves is staged into the same folder before the server is asked to load it, so the
server can read it without its walls being widened (Landlock rules can only be tightened).
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Callable

from engine.artifact import Artifact
from engine.errors import EngineError, NotFoundError
from engine.serving.settings import NAME_RULE, Deployment
from storage.settings import get_settings


def served_dir(name: str) -> Path:
    """The folder a server of ``name`` may read."""
    if not NAME_RULE.match(name):
        raise EngineError(f"served name {name!r} must be letters, digits, '.', '_' or '-' (64 at most)")
    return get_settings().home / "serving" / "served" / name


def _write(path: Path, text: str) -> None:
    """Temp file, fsync, rename: a server reading ``path`` never sees half of it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _place(src: Path, dest: Path) -> None:
    """``dest`` becomes ``src``'s content: a hard link when the file system allows one, else a copy."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _stage_artifact(model_id: int, artifact: Artifact, models: Path) -> None:
    """Put the artifact's files (a file, or a folder of plain files and folders) in ``models/MODEL_ID``."""
    target = models / str(int(model_id))
    record = models / f"{int(model_id)}.json"
    if record.is_file() and (target / artifact.path.name).exists():
        return  # stored artifacts never change: staged once is staged
    building = models / f".{int(model_id)}.{uuid.uuid4().hex}"
    building.mkdir(parents=True)
    try:
        src = artifact.path
        if stat.S_ISREG(os.lstat(src).st_mode):
            _place(src, building / src.name)
        else:
            for folder, dirs, files in os.walk(src):
                here = building / src.name / Path(folder).relative_to(src)
                here.mkdir(parents=True, exist_ok=True)
                for entry in [*dirs, *files]:
                    mode = os.lstat(Path(folder) / entry).st_mode
                    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                        raise EngineError(f"the stored artifact of model {model_id} holds {entry!r}, which is not a "
                                          "plain file or folder; it cannot be served")
                for entry in files:
                    _place(Path(folder) / entry, here / entry)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _write(record, json.dumps({"file": artifact.path.name, "format": artifact.format}))


def stage(deployment: Deployment, artifact_for: Callable[[int], Artifact]) -> Path:
    """Stage what ``deployment`` serves (``artifact_for`` looks a model up in the store); returns its folder.
    A version whose model was deleted is left out (and its earlier copy removed): loading it fails with a
    sentence."""
    folder = served_dir(deployment.name)
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    wanted = {deployment.model_of(number) for number in deployment.served()}
    for model_id in sorted(wanted):
        try:
            artifact = artifact_for(model_id)
        except NotFoundError:  # a deleted model: a copy staged earlier must not serve it again
            (models / f"{int(model_id)}.json").unlink(missing_ok=True)
            shutil.rmtree(models / str(int(model_id)), ignore_errors=True)
            continue
        _stage_artifact(model_id, artifact, models)
    _write(folder / "deployment.json", deployment.model_dump_json(indent=2))
    for old in models.iterdir():
        stem = old.name.removesuffix(".json")
        if stem.isdigit() and int(stem) not in wanted:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    return folder


def staged_deployment(name: str) -> Deployment:
    """The deployment as last staged: what a walled-in server re-reads to follow saved changes."""
    path = served_dir(name) / "deployment.json"
    try:
        return Deployment.model_validate(json.loads(path.read_text()))
    except OSError:
        raise NotFoundError(f"no deployment named {name!r} is staged for serving; save it again "
                            "(`trimline serve --name NAME` or the Deploy page)") from None
    except ValueError as exc:
        raise EngineError(f"the staged deployment {path} is damaged ({str(exc).splitlines()[0]})") from None


def staged_artifacts(names: list[str]) -> Callable[[int], Artifact]:
    """How a walled-in server finds what to load: a model's artifact staged under one of ``names``."""
    def artifact_for(model_id: int) -> Artifact:
        for name in names:
            models = served_dir(name) / "models"
            try:
                doc = json.loads((models / f"{int(model_id)}.json").read_text())
            except (OSError, ValueError):
                continue
            return Artifact(models / str(int(model_id)) / doc["file"], doc["format"])
        raise NotFoundError(f"model {model_id} is not staged for serving; save its deployment again "
                            "(`trimline serve` or the Deploy page)")
    return artifact_for
