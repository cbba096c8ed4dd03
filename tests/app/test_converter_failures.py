"""A converter failure reads as a sentence: a real SavedModel whose probit layer uses Erfinv (which tf2onnx cannot
convert) fails its tf2onnx job naming the op and the layer, without the job's scratch paths, and the Jobs page
shows the job stopped in a failure state."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.errors import JobFailedError
from engine.jobs.child import without_scratch
from tests.app.conftest import run_job


def _probit_savedmodel(folder: Path) -> Path:
    """A zipped SavedModel: y = erfinv(tanh(x·W) / 2), the probit link inside a name scope 'probit'."""
    import tensorflow as tf

    class Probit(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.random.default_rng(0).random((4, 3), dtype=np.float32) * 0.1)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):  # noqa: ANN001, ANN202
            with tf.name_scope("probit"):
                return {"y": tf.math.erfinv(tf.tanh(tf.matmul(x, self.w)) * 0.5)}

    module = Probit()
    saved = folder / "probit"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.serve})
    out = folder / "probit.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(p for p in saved.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(saved).as_posix())
    return out


def test_tf2onnx_failure_names_the_op_and_layer_and_the_jobs_bar_shows_it_failed(page, home, tmp_path):
    model = run_job(api.submit_import(_probit_savedmodel(tmp_path), name="probit").id).result["model_id"]
    job = api.submit_optimize(model, "tf2onnx", {}).job
    with pytest.raises(JobFailedError):
        run_job(job.id)
    failed = api.get_job(job.id)
    assert failed.error == ("tf2onnx does not support the TensorFlow op Erfinv (from layer 'probit') at opset 17; "
                            "try the tflite pass, which runs TensorFlow ops as they are")

    at = page("jobs")  # the newest job is the one shown
    (bar,) = at.status
    assert bar.state == "error" and bar.label.startswith("Failed at ")
    assert [e.value for e in at.error] == [failed.error]
    assert not at.get("progress")


def test_scratch_paths_leave_failure_sentences(tmp_path):
    scratch = tmp_path / "scratch" / "job-7-1"
    said = f"Load model from {scratch}/work/model.onnx failed: Erfinv(-1) is not a registered function/op"
    assert without_scratch(said, scratch) == \
        "Load model from model.onnx failed: Erfinv(-1) is not a registered function/op"
    assert without_scratch(f"cannot write {scratch}", scratch) == "cannot write the job's folder"
