"""tfmot passes on layers tfmot cannot wrap: a residual block with Conv → ReLU → BatchNormalization (QAT
has no rule for a BatchNormalization that does not follow a convolution) and a Conv1DTranspose (pruning
has none for it). The layers tfmot supports are compressed, the others stay as they were and are named."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays
from engine.passes import PASSES
from engine.passes.gate import run_pass
from tests.passes.conftest import make_ctx


@pytest.fixture(scope="module")
def residual(digits, tmp_path_factory: pytest.TempPathFactory) -> tuple[Artifact, DatasetArrays]:
    """A small Keras 3 residual CNN on digits, trained one epoch: Conv → ReLU → BN in both branches."""
    import keras

    _, data = digits
    keras.utils.set_random_seed(0)
    L = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = L.BatchNormalization(name="bn_stem")(L.ReLU()(L.Conv2D(8, 3, padding="same", name="stem")(inputs)))
    y = L.BatchNormalization(name="bn_branch")(L.ReLU()(L.Conv2D(8, 3, padding="same", name="branch")(x)))
    x = L.Reshape((64, 8))(L.Add()([x, y]))
    x = L.Conv1DTranspose(4, 3, padding="same", name="upsample")(x)
    outputs = L.Dense(10, activation="softmax", name="probs")(L.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data.x, data.y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("residual") / "residual.keras"
    model.save(path)
    return Artifact(path, "keras"), data


def _run(name: str, source: Artifact, tmp_path: Path, data: DatasetArrays, **config):
    spec = PASSES[name]
    return run_pass(spec, source, spec.config(**config), make_ctx(tmp_path, data))


def test_qat_quantizes_what_tfmot_supports_and_names_the_batchnorms_left_float(residual, tmp_path):
    from engine.formats import inspect_model

    artifact, data = residual
    result = _run("qat", artifact, tmp_path, data, epochs=1)
    floats = result.metrics["float_layers"]
    assert {"bn_stem", "bn_branch"} <= set(floats) and "stem" not in floats and "probs" not in floats
    assert "bn_stem" in result.metrics["warnings"][0] and "stay float" in result.metrics["warnings"][0]
    assert result.metrics["onnx_qdq"]["QuantizeLinear"] > 0
    layers = {layer for layer in inspect_model(result.artifact, produced=True)["info"]["op_histogram"]}
    assert {"Conv2D", "BatchNormalization", "Dense"} <= layers


def test_prune_and_cluster_keep_the_layers_tfmot_cannot_wrap_and_name_them(residual, tmp_path):
    from engine.bridge import load_keras_any
    from engine.passes.finetune import kernels

    artifact, data = residual
    pruned = _run("prune", artifact, tmp_path / "prune", data, target_sparsity=0.5, epochs=1, schedule="constant")
    assert pruned.metrics["float_layers"] == ["upsample"] and "stay dense" in pruned.metrics["warnings"][0]
    per_layer = pruned.metrics["sparsity_per_layer"]
    assert per_layer["stem/kernel"] >= 0.45 and per_layer["probs/kernel"] >= 0.45
    assert per_layer["upsample/kernel"] < 0.1

    clustered = _run("cluster", artifact, tmp_path / "cluster", data, clusters=8, epochs=0)
    assert clustered.metrics.get("float_layers", []) == []  # clustering covers every kernel layer here
    for name, kernel in kernels(load_keras_any(clustered.artifact.path)).items():
        assert np.unique(kernel).size <= 8, name
