"""Serving instances: a missing execution provider falls back to CPU and says why; feeds are checked."""
from __future__ import annotations

import numpy as np
import pytest

from engine.artifact import Artifact
from engine.serving.runtimes import check_feeds, open_instance, session_options
from engine.serving.settings import ModelSettings
from tests.app.conftest import write_tiny_onnx


def test_a_missing_provider_falls_back_to_cpu_and_says_why(tmp_path):
    import onnxruntime as ort

    assert "CUDAExecutionProvider" not in ort.get_available_providers()
    inst = open_instance(Artifact(write_tiny_onnx(tmp_path / "t.onnx"), "onnx"),
                         ModelSettings(providers=["CUDAExecutionProvider"], intra_threads=1, arena=False,
                                       mem_pattern=False, opt_level="basic", spin_wait=False))
    assert inst.provider == "CPUExecutionProvider"
    assert inst.note == "CUDAExecutionProvider is not available in this onnxruntime build; serving on CPU"
    assert inst.run({"x": np.ones((2, 4), np.float32)})[0].shape == (2, 3)


@pytest.mark.parametrize(("feeds", "sentence"), [
    ({"x": np.ones((2, 5), np.float32)}, "input 'x' expects shape [-1, 4] and datatype FP32; got shape [2, 5] "
                                         "and datatype FP32"),
    ({"x": np.ones((2, 4), np.float64)}, "got shape [2, 4] and datatype FP64"),
    ({}, "the model takes input(s) 'x'; 'x' is missing"),
    ({"x": np.ones((2, 4), np.float32), "y": np.ones(1)}, "'y' is not one of them"),
])
def test_feeds_that_do_not_fit_get_one_sentence(feeds, sentence):
    with pytest.raises(ValueError) as info:
        check_feeds([{"name": "x", "shape": ["N", 4], "dtype": "float32"}], feeds)
    assert sentence in str(info.value)



def _entry(options, key: str) -> str | None:  # noqa: ANN001
    try:
        return options.get_session_config_entry(key)
    except RuntimeError:  # not set: ONNX Runtime's default
        return None


@pytest.mark.parametrize(("spin", "stop", "allowed", "stopped"), [
    (True, True, None, "1"), (True, False, None, None), (False, True, "0", None)])
def test_spinning_threads_stop_after_each_run_unless_asked_to_spin_on(spin, stop, allowed, stopped):
    options = session_options(ModelSettings(intra_threads=2, spin_wait=spin, spin_stop=stop))
    assert _entry(options, "session.intra_op.allow_spinning") == allowed  # None: spinning, the default
    assert _entry(options, "session.force_spinning_stop") == stopped


def test_a_served_keras_model_runs_one_traced_graph_for_every_batch_size(digits_files):
    """Served, a Keras model is one traced graph (as the benchmark's tensorflow runtime times it), not eager calls
    layer by layer; its batch dimension is open, so it serves every batch size, and the answers are the model's."""
    from engine.bridge import load_keras_any
    from engine.runtime import open_model

    path, data = digits_files
    x = np.load(data)["x"][:5].astype(np.float32)
    instance = open_instance(Artifact(path, "keras"), ModelSettings(intra_threads=1))
    name = instance.inputs[0]["name"]
    expected = np.asarray(load_keras_any(path)(x, training=False))
    for rows in (1, 3, 5, 1):
        np.testing.assert_allclose(instance.run({name: x[:rows]})[0], expected[:rows], rtol=1e-5, atol=1e-6)
    traced = open_model(Artifact(path, "keras"), repeated=True)
    eager = open_model(Artifact(path, "keras"))
    import tensorflow as tf

    def call_of(predictor):  # noqa: ANN001, ANN202  (what the predictor's run calls)
        run = predictor._run
        return dict(zip(run.__code__.co_freevars, (c.cell_contents for c in run.__closure__)))["call"]

    concrete = call_of(traced)  # one graph, traced once, with an open batch dimension
    assert isinstance(concrete, tf.types.experimental.ConcreteFunction)
    assert concrete.structured_input_signature[0][0].shape.as_list() == [None, 8, 8, 1]
    for rows in (1, 4):
        np.testing.assert_allclose(traced.run({name: x[:rows]})[0], expected[:rows], rtol=1e-5, atol=1e-6)
    assert not isinstance(call_of(eager), tf.types.experimental.ConcreteFunction), "a one-off call is not traced"


def test_a_served_keras_2_model_runs_traced_and_answers_as_it_does_eagerly(tmp_path):
    """A tf-keras (Keras 2) model, as the prune, cluster and QAT passes store them, through the same traced path."""
    import tf_keras

    from engine.runtime import open_model

    model = tf_keras.Sequential([tf_keras.Input((8, 8, 1), name="pixels"), tf_keras.layers.Conv2D(4, 3),
                                 tf_keras.layers.BatchNormalization(), tf_keras.layers.Dropout(0.5),
                                 tf_keras.layers.Flatten(), tf_keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "legacy.h5"
    model.save(path)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)
    eager = open_model(Artifact(path, "keras"))
    instance = open_instance(Artifact(path, "keras"), ModelSettings(intra_threads=1))
    name = instance.inputs[0]["name"]
    for rows in (1, 4):  # Dropout stays off (training=False) in the graph as in the eager call
        np.testing.assert_allclose(instance.run({name: x[:rows]})[0], eager.run({name: x[:rows]})[0], rtol=1e-5,
                                   atol=1e-6)


def test_a_served_keras_model_runs_on_the_threads_asked_for_and_a_second_size_says_it_was_not_taken(digits_files):
    """TensorFlow sizes its pools once per process: the first TensorFlow model served sets them (intra- and
    inter-op, as the benchmark's tensorflow runtime timed its cell); a later one asking for another size runs on
    them and its status says so. Run in a fresh process, whose pools have not started."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = f"""
import json, numpy as np, tensorflow as tf
from pathlib import Path
from engine.artifact import Artifact
from engine.serving.runtimes import open_instance
from engine.serving.settings import ModelSettings
art = Artifact(Path({str(digits_files[0])!r}), "keras")
first = open_instance(art, ModelSettings(intra_threads=1))
again = open_instance(art, ModelSettings(intra_threads=1))
other = open_instance(art, ModelSettings(intra_threads=2))
x = np.zeros((2, 8, 8, 1), np.float32)
print(json.dumps({{"pools": [tf.config.threading.get_intra_op_parallelism_threads(),
                            tf.config.threading.get_inter_op_parallelism_threads()],
                  "notes": [first.note, again.note, other.note], "rows": len(other.run({{"image": x}})[0])}}))
"""
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["pools"] == [1, 1]
    assert out["notes"][:2] == ["", ""]
    assert out["notes"][2] == ("TensorFlow's thread pools are shared by every TensorFlow model in this server and "
                               "had already started with 1 thread; this version runs on them, not on the 2 asked for")
    assert out["rows"] == 2
