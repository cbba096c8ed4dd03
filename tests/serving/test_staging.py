"""Staging what a server serves: hard links into the store on its file system, copies from another one
(here /dev/shm, a tmpfs), only the versions the policy serves, and no link or device smuggled in."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.artifact import Artifact
from engine.errors import EngineError, NotFoundError
from engine.serving import staging
from engine.serving.settings import Deployment


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _saved_model(folder: Path) -> Path:
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder


def test_versions_are_linked_or_copied_and_only_the_served_ones_kept(home, tmp_path):
    store = {1: Artifact(_saved_model(tmp_path / "store" / "sm"), "savedmodel")}
    shm = Path("/dev/shm") / f"trimline-staging-{os.getpid()}.onnx"
    shm.write_bytes(b"onnx bytes")
    store[2] = Artifact(shm, "onnx")
    try:
        both = Deployment(name="pair", versions=[{"version": 1, "model_id": 1}, {"version": 2, "model_id": 2}])
        folder = staging.stage(both, store.__getitem__)
        read = staging.staged_artifacts(["pair"])
        linked, copied = read(1), read(2)
        assert linked.format == "savedmodel" and (linked.path / "variables" / "variables.index").read_bytes() == b"index"
        assert (linked.path / "saved_model.pb").stat().st_ino == (store[1].path / "saved_model.pb").stat().st_ino
        assert os.stat(shm).st_dev != os.stat(folder).st_dev  # another file system: a copy
        assert copied.path.stat().st_ino != shm.stat().st_ino and copied.path.stat().st_nlink == 1
        assert copied.path.read_bytes() == b"onnx bytes" and copied.path.is_relative_to(folder)
        assert staging.staged_deployment("pair") == both

        newest = Deployment(name="pair", versions=both.versions, policy={"kind": "latest", "n": 1})
        staging.stage(newest, store.__getitem__)
        assert sorted(p.name for p in (folder / "models").iterdir()) == ["2", "2.json"]
        with pytest.raises(EngineError, match="model 1 is not staged for serving"):
            read(1)
        with pytest.raises(EngineError, match="model 2 is not staged"):
            staging.staged_artifacts(["another"])(2)

        def deleted(model_id: int) -> Artifact:
            raise NotFoundError(f"model {model_id} does not exist")

        staging.stage(newest, deleted)  # model 2 deleted since: its staged copy goes too
        with pytest.raises(EngineError, match="model 2 is not staged for serving"):
            read(2)
        assert not (folder / "models" / "2").exists()
    finally:
        shm.unlink()


def test_an_artifact_holding_a_link_is_not_staged(home, tmp_path):
    folder = _saved_model(tmp_path / "store" / "sm")
    (folder / "variables" / "secrets").symlink_to(home.parent)
    deployment = Deployment(name="linked", versions=[{"version": 1, "model_id": 7}])
    with pytest.raises(EngineError, match="model 7 holds 'secrets', which is not a plain file or folder"):
        staging.stage(deployment, lambda model_id: Artifact(folder, "savedmodel"))
    assert not list((staging.served_dir("linked") / "models").iterdir())  # nothing half-staged
