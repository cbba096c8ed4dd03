"""prune, cluster, qat and distill on the trained digits CNN: structure of the result, and how close it
stays to the parent on the digits test set (the data the fine-tuning used: the bounds are loose)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputError
from engine.passes.gate import run_pass
from engine.passes import PASSES
from engine.formats.datasets import DatasetArrays
from tests.passes.conftest import make_ctx


def _run(name, source, tmp_path, dataset=None, **config):
    spec = PASSES[name]
    return run_pass(spec, source, spec.config(**config), make_ctx(tmp_path, dataset))


def test_prune_reaches_target_sparsity_and_compresses(digits, tmp_path):
    artifact, data = digits
    result = _run("prune", artifact, tmp_path, data, target_sparsity=0.5, epochs=2)
    assert result.artifact.path.suffix == ".h5"
    assert result.metrics["sparsity"] >= 0.48
    assert all(s >= 0.48 for s in result.metrics["sparsity_per_layer"].values())
    assert result.metrics["weights_gzip_bytes"] < result.metrics["parent_weights_gzip_bytes"]
    assert result.metrics["fidelity"]["top1_agreement"] >= 0.8


def test_prune_leaves_parent_file_untouched(digits, tmp_path):
    artifact, data = digits
    before = artifact.path.read_bytes()
    _run("prune", artifact, tmp_path, DatasetArrays(data.x[:64], data.y[:64]), target_sparsity=0.3,
         schedule="constant", epochs=1)
    assert artifact.path.read_bytes() == before


def test_cluster_keeps_at_most_k_values_per_kernel(digits, tmp_path):
    artifact, data = digits
    result = _run("cluster", artifact, tmp_path, data, clusters=8, epochs=1)
    assert 1 < result.metrics["max_unique_weights"] <= 8
    from engine.bridge import load_keras_any
    from engine.passes.finetune import kernels

    for name, kernel in kernels(load_keras_any(result.artifact.path)).items():
        assert np.unique(kernel).size <= 8, name
    assert result.metrics["weights_gzip_bytes"] < result.metrics["parent_weights_gzip_bytes"]
    assert result.metrics["fidelity"]["top1_agreement"] >= 0.8


@pytest.fixture(scope="module")
def qat_result(digits, tmp_path_factory):
    artifact, data = digits
    return _run("qat", artifact, tmp_path_factory.mktemp("qat"), data, epochs=1)


def test_qat_saves_keras_model_whose_onnx_form_has_qdq(digits, qat_result, tmp_path):
    artifact, data = digits
    result = qat_result
    assert result.artifact.path.stat().st_size < 3 * artifact.path.stat().st_size  # no optimizer state
    assert result.metrics["onnx_qdq"]["QuantizeLinear"] > 0 and result.metrics["onnx_qdq"]["DequantizeLinear"] > 0
    assert result.metrics["fidelity"]["top1_agreement"] >= 0.85
    onnx_result = _run("tf2onnx", result.artifact, tmp_path / "onnx", data)  # gated with the Q/DQ tolerance
    assert onnx_result.metrics["qdq_nodes"] > 0


def _in_keras_runtimes(artifact, x):  # noqa: ANN001, ANN202
    """Per Keras runtime: what its timed call returns for ``x``, and a small benchmark of batches 1 and 8. Run in
    a fresh process, whose TensorFlow thread pools are still free to be sized to one thread."""
    from engine.measure.benchmark import BenchmarkConfig, run_benchmark
    from engine.measure.runners import open_session

    found = {}
    for runtime in ("keras-predict", "tensorflow"):
        session = open_session(artifact, runtime, threads=1)
        out = session.prepare({"image": x})()
        session.close()
        bench = run_benchmark(artifact, [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}],
                              BenchmarkConfig(runtime=runtime, batches=[1, 8], threads=[1], warmup=1, min_runs=5,
                                              max_runs=50, time_budget_s=0.1))
        found[runtime] = (np.asarray(out[0] if isinstance(out, list) else out), bench)
    return found


def test_qat_output_is_benchmarked_and_evaluated_in_the_keras_runtimes(digits, qat_result):
    # a QAT output is a tf-keras .h5 of tfmot quantize wrappers: both Keras runtimes open it as the produced
    # model it is, and what they time is the model's own prediction
    from engine.bridge import load_keras_any
    from engine.measure.evaluate import evaluate
    from engine.measure.spawning import spawn_pool

    parent, data = digits
    qat = qat_result.artifact
    expected = np.asarray(load_keras_any(qat.path)(data.x[:8], training=False))
    with spawn_pool(1) as pool:
        found = pool.apply(_in_keras_runtimes, (qat, data.x[:8]))
    for runtime, (out, bench) in found.items():
        np.testing.assert_allclose(out, expected, atol=1e-5, err_msg=runtime)
        assert bench["runtime"] == runtime and [r["batch"] for r in bench["results"]] == [1, 8]
        assert all(r["latency_ms"]["p50"] > 0 for r in bench["results"])
    scored = evaluate(qat, data, parent=parent)
    assert scored["metrics"]["accuracy"] >= 0.85 and scored["fidelity"]["agreement"] >= 0.85


def test_distill_half_width_student_lands_within_three_points_of_the_teacher(digits, tmp_path):
    """Trained on 300 rows, judged on 150 held-out rows the student never saw; the wall time is reported."""
    from engine.bridge import load_keras_any
    from engine.passes import finetune as ft

    artifact, data = digits
    result = _run("distill", artifact, tmp_path, DatasetArrays(data.x[:300], data.y[:300]), width_factor=0.5)
    m = result.metrics
    assert m["student_params"] < m["teacher_params"] / 2
    assert m["train_wall_s"] > 0 and 1 <= m["epochs_run"] <= 60
    held_x, held_y = data.x[300:], data.y[300:]
    teacher = ft.accuracy(load_keras_any(artifact.path), held_x, held_y)
    student = ft.accuracy(load_keras_any(result.artifact.path), held_x, held_y)
    print(f"\nheld-out accuracy: teacher {teacher:.3f}, half-width student {student:.3f}, "
          f"{m['epochs_run']} epochs in {m['train_wall_s']} s")
    assert teacher > 0.9 and student >= teacher - 0.03


def test_distill_refuses_student_with_other_outputs(digits, tmp_path):
    import keras

    from engine.artifact import Artifact

    inputs = keras.Input((8, 8, 1))
    other = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "student.keras"
    other.save(path)
    spec = PASSES["distill"]
    ctx = make_ctx(tmp_path, digits[1], models={5: Artifact(path, "keras")})
    with pytest.raises(InputError, match=r"the student's output shape \(None, 3\) differs from the teacher's"):
        spec.run(digits[0], spec.config(student=5, epochs=1), ctx)


def test_finetune_pass_without_labels_is_refused(digits, tmp_path):
    spec = PASSES["prune"]
    with pytest.raises(InputError, match="needs a labelled data set"):
        spec.run(digits[0], spec.config(), make_ctx(tmp_path, DatasetArrays(digits[1].x)))


def test_prune_then_sparsity_preserving_qat_ships_a_smaller_int8_tflite(digits, tmp_path):
    """Plain QAT fills a pruned model's zeros back in; with preserve_sparsity they stay, and the int8
    TFLite file they end in compresses far better than the dense int8 one."""
    from engine.measure.benchmark import artifact_sizes

    artifact, data = digits
    pruned = _run("prune", artifact, tmp_path / "p", data, target_sparsity=0.5, epochs=2)
    qat = _run("qat", pruned.artifact, tmp_path / "q", data, epochs=2, preserve_sparsity=True)
    assert qat.metrics["sparsity"] >= 0.45
    sparse = _run("tflite", qat.artifact, tmp_path / "s", data, quantization="int8")
    dense = _run("tflite", artifact, tmp_path / "d", data, quantization="int8")
    (sparse_disk, sparse_gz), (dense_disk, dense_gz) = artifact_sizes(sparse.artifact.path), \
        artifact_sizes(dense.artifact.path)
    assert sparse_disk < 1.1 * dense_disk and sparse_gz < 0.85 * dense_gz, (sparse_gz, dense_gz)
