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


def _libraries_loaded(job_id: int) -> str:
    job = service.get(job_id)
    assert job.status == "succeeded", job.error
    lines = [line for line in api.job_log(job_id).splitlines() if "libraries loaded: " in line]
    assert lines, "the child's log names the libraries it loaded"
    return lines[-1].split("libraries loaded: ", 1)[1]


def test_job_children_load_no_database_library(home: Path, tmp_path: Path) -> None:
    # the worker owns the database: a job's child imports only its own kind, and an ONNX file copied
    # out needs neither SQLAlchemy nor any model library (each one is start-up time for every job)
    from tests.app.conftest import write_tiny_onnx

    model_id = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx")).id).result["model_id"]
    export = service.wait(api.submit_export(model_id, "onnx").id, timeout_s=300)
    assert _libraries_loaded(export.id) == "none"
    # a benchmark of an optimized child compares with its parent's benchmark on the same hardware in the child
    fast = {"batches": [1], "threads": [1], "time_budget_s": 0.2, "profile": False}
    service.wait(api.submit_benchmark(model_id, fast).id, timeout_s=300)
    child = service.wait(api.submit_optimize(model_id, "onnx-optimize").job.id, timeout_s=300).result["model_id"]
    bench = service.wait(api.submit_benchmark(child, fast).id, timeout_s=300)
    loaded = _libraries_loaded(bench.id)
    assert "onnxruntime" in loaded and "sqlalchemy" not in loaded, loaded



def _predict_savedmodel(folder: Path, x):  # noqa: ANN001
    import tensorflow as tf

    fn = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return next(iter(fn(tf.constant(x)).values())).numpy()


def test_qat_output_exports_as_savedmodel_tfserving_and_bundle_that_predict_as_the_source(
        home: Path, tmp_path: Path, digits_files: tuple[Path, Path]) -> None:
    # a QAT output is a tf-keras .h5 with tfmot's quantize wrappers: a produced model, loaded as one, and
    # saved by tf-keras itself (Keras 3's export cannot take a tf-keras model); a bundle's own check script
    # opens it with tf-keras too
    import numpy as np

    from engine.bridge import load_keras_any

    model_id = service.wait(api.submit_import(digits_files[0], name="digits").id).result["model_id"]
    data_id = service.wait(api.submit_dataset_import(digits_files[1]).id).result["dataset_id"]
    job = service.wait(api.submit_optimize(model_id, "qat", {"epochs": 1}, dataset_id=data_id).job.id, timeout_s=600)
    assert job.status == "succeeded", job.error
    qat_id = job.result["model_id"]
    x = np.load(digits_files[1])["x"][:16].astype("float32")
    expected = np.asarray(load_keras_any(api.model_path(qat_id))(x, training=False))

    with zipfile.ZipFile(_export(qat_id, "savedmodel", tmp_path / "sm")) as zf:
        zf.extractall(tmp_path / "savedmodel")
    np.testing.assert_allclose(_predict_savedmodel(tmp_path / "savedmodel", x), expected, atol=1e-5)

    with zipfile.ZipFile(_export(qat_id, "tfserving", tmp_path / "tfs")) as zf:
        zf.extractall(tmp_path / "serving")
    (version,) = [p for p in (tmp_path / "serving").glob("*/1") if p.is_dir()]
    np.testing.assert_allclose(_predict_savedmodel(version, x), expected, atol=1e-5)

    with zipfile.ZipFile(_export(qat_id, "bundle", tmp_path / "b")) as zf:
        zf.extractall(tmp_path / "bundle")
    run = subprocess.run([sys.executable, "run_model.py"], cwd=tmp_path / "bundle", capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and "check: ok" in run.stdout, run.stdout + run.stderr[-3000:]
