"""Evaluation: metrics equal a direct count, fidelity to a parent, and refusals that say what to fix."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from engine.artifact import Artifact
from engine.errors import InputError
from engine.measure.evaluate import evaluate
from engine.formats.datasets import DatasetArrays


@pytest.fixture(scope="module")
def digits(digits_files, digits_onnx, tmp_path_factory):
    import keras

    data = np.load(digits_files[1])
    # an uncompiled copy: the parent under test is the network, not the optimizer state saved beside it
    plain = tmp_path_factory.mktemp("digits_plain") / "digits.keras"
    keras.models.load_model(digits_files[0], compile=False).save(plain)
    return Artifact(digits_onnx, "onnx"), Artifact(plain, "keras"), DatasetArrays(data["x"], data["y"])


def test_accuracy_equals_a_direct_count(digits):
    onnx_model, _, data = digits
    session = ort.InferenceSession(str(onnx_model.path), providers=["CPUExecutionProvider"])
    probs = session.run(None, {session.get_inputs()[0].name: data.x})[0]
    direct = int((probs.argmax(axis=1) == data.y).sum())
    seen = []
    out = evaluate(onnx_model, data, batch_size=64, progress=lambda f, m: seen.append((f, m)))
    print(f"\naccuracy {out['metrics']['accuracy']:.4f} = {direct}/{len(data.y)}")
    assert out["task"] == "classification" and out["n_samples"] == 450
    assert out["metrics"]["accuracy"] == direct / len(data.y)
    top5 = np.mean([y in np.argsort(-p)[:5] for p, y in zip(probs, data.y)])
    assert out["metrics"]["top5_accuracy"] == pytest.approx(top5)
    for c in range(10):
        mask = data.y == c
        assert out["metrics"]["per_class_accuracy"][str(c)] == pytest.approx(np.mean(probs[mask].argmax(1) == c))
    assert out["fidelity"] is None
    assert seen[-1][0] == 1.0 and "450/450" in seen[-2][1]


def test_fidelity_of_the_onnx_conversion_to_its_keras_parent(digits):
    onnx_model, keras_model, data = digits
    out = evaluate(onnx_model, data, parent=keras_model)
    print(f"\nfidelity {out['fidelity']}")
    assert out["fidelity"]["agreement"] == 1.0 and out["fidelity"]["max_abs_diff"] < 1e-4


def test_unlabeled_data_gives_only_fidelity(digits):
    onnx_model, _, data = digits
    out = evaluate(onnx_model, DatasetArrays(data.x), parent=onnx_model)
    assert out["task"] is None and out["metrics"] == {}
    assert out["fidelity"] == {"agreement": 1.0, "max_abs_diff": 0.0, "mean_abs_diff": 0.0}


def test_unlabeled_data_without_a_parent_is_refused(digits):
    with pytest.raises(InputError, match="the data set has no labels and no parent model was given"):
        evaluate(digits[0], DatasetArrays(digits[2].x))


def test_dataset_shape_mismatch_is_refused_with_both_shapes(digits):
    onnx_model, _, data = digits
    with pytest.raises(InputError, match=r"the data set's samples have shape \(64,\) but the model's input "
                                         r"'image' expects \(8, 8, 1\)"):
        evaluate(onnx_model, DatasetArrays(data.x.reshape(450, 64), data.y))


def test_label_count_mismatch_is_refused(digits):
    with pytest.raises(InputError, match="the data set has 450 samples but 449 labels"):
        evaluate(digits[0], DatasetArrays(digits[2].x, digits[2].y[:-1]))


def test_float_labels_are_regression_with_mae_and_mse(graphs):
    rng = np.random.default_rng(0)
    x = rng.random((100, 64), dtype=np.float32)
    import onnx
    from onnx import numpy_helper

    w = numpy_helper.to_array(onnx.load(str(graphs["matmul"])).graph.initializer[0])
    y = (x @ w + 0.5).astype(np.float32)
    out = evaluate(Artifact(graphs["matmul"], "onnx"), DatasetArrays(x, y), batch_size=32)
    assert out["task"] == "regression"
    assert out["metrics"]["mae"] == pytest.approx(0.5, abs=1e-4) and out["metrics"]["mse"] == pytest.approx(0.25, abs=1e-4)


def test_float32_data_is_cast_for_an_fp16_input_model(graphs):
    x = np.random.default_rng(1).random((10, 64), dtype=np.float32)
    out = evaluate(Artifact(graphs["matmul_fp16"], "onnx"), DatasetArrays(x), parent=Artifact(graphs["matmul"], "onnx"))
    assert out["fidelity"]["agreement"] == 1.0 and out["fidelity"]["max_abs_diff"] < 0.1


def test_a_fixed_batch_model_is_fed_its_own_batch(graphs):
    x = np.random.default_rng(2).random((7, 64), dtype=np.float32)
    y = np.arange(7) % 10
    out = evaluate(Artifact(graphs["matmul_fixed"], "onnx"), DatasetArrays(x, y), parent=Artifact(graphs["matmul"], "onnx"))
    assert out["n_samples"] == 7 and out["fidelity"]["max_abs_diff"] < 1e-5


def test_task_can_be_overridden(graphs):
    x = np.random.default_rng(3).random((20, 64), dtype=np.float32)
    out = evaluate(Artifact(graphs["matmul"], "onnx"), DatasetArrays(x, np.zeros(20, np.int64)), task="regression")
    assert out["task"] == "regression" and "mae" in out["metrics"]
