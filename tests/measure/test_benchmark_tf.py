"""TensorFlow, Keras predict and TFLite runtimes on the digits CNN (they load TensorFlow: marked slow)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.artifact import Artifact
from engine.measure.benchmark import BenchmarkConfig, run_benchmark

pytestmark = pytest.mark.slow
SIG = [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]
FAST = {"warmup": 2, "min_runs": 10, "max_runs": 100, "time_budget_s": 0.3}


@pytest.fixture(scope="module")
def digits_plain(digits_files, tmp_path_factory):
    import keras

    path = tmp_path_factory.mktemp("digits_tf") / "digits.keras"
    keras.models.load_model(digits_files[0], compile=False).save(path)
    return path


@pytest.fixture(scope="module")
def digits_tflite(digits_plain, tmp_path_factory):
    import keras
    import tensorflow as tf

    model = keras.models.load_model(digits_plain, compile=False)
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec([None, 8, 8, 1], tf.float32))
    path = tmp_path_factory.mktemp("digits_tflite") / "digits.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], model).convert())
    return path


@pytest.mark.parametrize("runtime", ["tensorflow", "keras-predict"])
def test_keras_model_runs_in_tensorflow_runtimes_across_thread_counts(digits_plain, runtime):
    out = run_benchmark(Artifact(digits_plain, "keras"), SIG,
                        BenchmarkConfig(runtime=runtime, batches=[1, 8], threads=[1, 2], **FAST))
    rows = {(r["batch"], r["threads"]): r for r in out["results"]}
    print("\n", runtime, {k: round(r["latency_ms"]["p50"], 3) for k, r in rows.items()})
    assert set(rows) == {(1, 1), (8, 1), (1, 2), (8, 2)}
    assert all(r["opt_level"] is None and r["latency_ms"]["p50"] > 0 for r in rows.values())
    assert out["samples"] and out["runtime"] == runtime


def test_tflite_runs_with_its_thread_count_and_batches(digits_tflite):
    out = run_benchmark(Artifact(digits_tflite, "tflite"), SIG,
                        BenchmarkConfig(batches=[1, 4], threads=[1, 2], concurrency=2, **FAST))
    assert out["runtime"] == "tflite" and len(out["results"]) == 4
    assert out["concurrency"]["shared_session"] is None  # one interpreter is not thread-safe
    assert out["concurrency"]["session_per_client"]["runs"] > 0


def test_tflite_sessions_run_on_litert_without_importing_tensorflow(digits_tflite):
    import os
    import subprocess
    import sys

    import numpy as np
    import tensorflow as tf

    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    np.save(digits_tflite.parent / "x.npy", x)
    code = ("import sys, numpy as np; from engine.artifact import Artifact; "
            "from engine.measure.runners import open_session; "
            "from pathlib import Path; "
            f"s = open_session(Artifact(Path({str(digits_tflite)!r}), 'tflite'), 'tflite', 1); "
            f"np.save({str(digits_tflite.parent / 'out.npy')!r}, s.prepare({{'image': np.load("
            f"{str(digits_tflite.parent / 'x.npy')!r})}})()[0]); "
            "print('tensorflow' in sys.modules, 'ai_edge_litert.interpreter' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]  # LiteRT's interpreter; TensorFlow never imported
    interpreter = tf.lite.Interpreter(model_path=str(digits_tflite))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(np.load(digits_tflite.parent / "out.npy"), expected, rtol=1e-5, atol=1e-6)


def test_the_tensorflow_runtime_times_the_graph_the_server_runs(digits_plain):
    """The benchmark's tensorflow runtime and a served Keras model call one helper's concrete function, so the
    benchmark's figure is the server's: both answer as the model does, for every batch size."""
    import numpy as np
    import tensorflow as tf

    from engine.formats.keras_safe import load_keras
    from engine.measure.runners import open_session
    from engine.runtime import open_model

    session = open_session(Artifact(digits_plain, "keras"), "tensorflow", 0)  # 0: the pools as they are
    served = open_model(Artifact(digits_plain, "keras"), repeated=True)
    model = load_keras(digits_plain)  # Keras 3: tf.keras is tf-keras once a tfmot test has run in this process
    for rows in (1, 8):
        x = np.random.default_rng(rows).random((rows, 8, 8, 1))  # float64: cast before the timed call
        timed = session.prepare({"image": x})
        fn = dict(zip(timed.__code__.co_freevars, (c.cell_contents for c in timed.__closure__)))["fn"]
        assert isinstance(fn, tf.types.experimental.ConcreteFunction)
        expected = np.asarray(model(x.astype(np.float32), training=False))
        np.testing.assert_allclose(timed()[0], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(served.run({served.inputs[0]["name"]: x.astype(np.float32)})[0], expected,
                                   rtol=1e-5, atol=1e-6)
