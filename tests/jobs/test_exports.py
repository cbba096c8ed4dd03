"""Exports that work where they land: a bundle that checks itself, serving layouts, format refusals."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine import api
from engine.errors import InputError
from engine.jobs import service

pytestmark = pytest.mark.xdist_group("jobs")


def _export(model_id: int, target: str, dest: Path) -> Path:
    job = service.wait(api.submit_export(model_id, target).id, timeout_s=300)
    return api.copy_export(job, str(dest) + "/")


def test_bundle_reproduces_its_recorded_outputs_and_hashes(home: Path, tmp_path: Path, digits_onnx: Path) -> None:
    model_id = service.wait(api.submit_import(digits_onnx, name="digits onnx").id).result["model_id"]
    bundle = _export(model_id, "bundle", tmp_path / "out")
    assert bundle.name == "digits-onnx.bundle.zip"
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    assert {"model.onnx", "README.md", "recipe.yaml", "metrics.json", "run_model.py", "sample.npz",
            "SHA256SUMS"} <= {p.name for p in folder.iterdir()}
    run = subprocess.run([sys.executable, "run_model.py"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "check: ok" in run.stdout, run.stdout + run.stderr
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == 6


def test_triton_layout_has_config_and_versioned_model(home: Path, tmp_path: Path, digits_onnx: Path) -> None:
    model_id = service.wait(api.submit_import(digits_onnx, name="digits").id).result["model_id"]
    with zipfile.ZipFile(_export(model_id, "triton", tmp_path)) as zf:
        names = set(zf.namelist())
        config = zf.read("digits/config.pbtxt").decode()
    assert {"digits/config.pbtxt", "digits/1/model.onnx"} <= names
    assert 'backend: "onnxruntime"' in config and "max_batch_size: 64" in config
    assert 'name: "image"' in config and "dims: [ 8, 8, 1 ]" in config and "TYPE_FP32" in config


def test_keras_exports_as_tfserving_savedmodel_that_loads(home: Path, tmp_path: Path,
                                                         digits_files: tuple[Path, Path]) -> None:
    import numpy as np
    import tensorflow as tf

    model_id = service.wait(api.submit_import(digits_files[0], name="digits").id).result["model_id"]
    with zipfile.ZipFile(_export(model_id, "tfserving", tmp_path)) as zf:
        zf.extractall(tmp_path / "serving")
    loaded = tf.saved_model.load(str(tmp_path / "serving" / "digits" / "1"))
    out = loaded.signatures["serving_default"](tf.constant(np.zeros((2, 8, 8, 1), "float32")))
    assert next(iter(out.values())).shape == (2, 10)
    with pytest.raises(InputError, match="Triton model repository is built from an ONNX model"):
        api.submit_export(model_id, "triton")
    with pytest.raises(InputError, match="unknown export format"):
        api.submit_export(model_id, "pickle")


def test_child_of_an_onnx_export_loads_no_database_library(home: Path, tmp_path: Path) -> None:
    # the worker owns the database: a job's child imports only its own kind, and an ONNX file copied
    # out needs neither SQLAlchemy nor any model library (each one is start-up time for every job)
    from tests.app.conftest import write_tiny_onnx

    model_id = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx")).id).result["model_id"]
    job = service.wait(api.submit_export(model_id, "onnx").id, timeout_s=300)
    assert job.status == "succeeded", job.error
    loaded = [line for line in api.job_log(job.id).splitlines() if "libraries loaded:" in line]
    assert loaded and loaded[-1].endswith("libraries loaded: none"), loaded
