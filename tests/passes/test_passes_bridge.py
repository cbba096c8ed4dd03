"""Keras 3 → tf-keras bridge: same outputs, and tf-keras files load back through the runtime."""
from __future__ import annotations

import numpy as np

from engine.bridge import keras3_to_tf_keras, load_keras_any, translate_config


def _both(artifact, x):
    from engine.formats.keras_safe import load_keras

    original = load_keras(artifact.path)
    bridged = keras3_to_tf_keras(artifact.path)
    assert type(bridged).__module__.startswith("tf_keras")
    return np.asarray(original(x, training=False)), np.asarray(bridged(x, training=False))


def test_bridge_digits_cnn_outputs_equal_keras3(digits):
    artifact, data = digits
    a, b = _both(artifact, data.x[:64])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_bridge_mobilenetv2_outputs_equal_keras3(mobilenet):
    x = np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32)
    a, b = _both(mobilenet, x)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_bridge_transformer_with_attention_outputs_equal_keras3(transformer):
    x = np.random.default_rng(0).integers(0, 100, (4, 16)).astype("int32")
    a, b = _both(transformer, x)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_translate_config_rewrites_keras3_keys():
    config = {"name": "m", "input_layers": ["in", 0, 0], "output_layers": ["d", 0, 0], "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "in",
         "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "in", "sparse": False}, "inbound_nodes": []},
        {"module": "keras.layers", "class_name": "Dense", "name": "d", "build_config": {"input_shape": [None, 3]},
         "config": {"name": "d", "units": 2, "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                                      "config": {"name": "float32"}}},
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                      "config": {"shape": [None, 3], "keras_history": ["in", 0, 0]}}],
                            "kwargs": {}}]}]}
    out = translate_config(config)
    assert out["input_layers"] == [["in", 0, 0]] and out["output_layers"] == [["d", 0, 0]]
    assert out["layers"][0]["config"]["batch_input_shape"] == [None, 3]
    assert "module" not in out["layers"][1] and "build_config" not in out["layers"][1]
    assert out["layers"][1]["config"]["dtype"] == "float32"
    assert out["layers"][1]["inbound_nodes"] == [[["in", 0, 0, {}]]]


def test_runtime_opens_tf_keras_h5(digits, tmp_path):
    from engine.artifact import Artifact
    from engine.runtime import open_model

    artifact, data = digits
    path = tmp_path / "digits_tfkeras.h5"
    keras3_to_tf_keras(artifact.path).save(str(path), save_format="h5")
    assert type(load_keras_any(path)).__module__.startswith("tf_keras")
    predictor = open_model(Artifact(path, "keras"))
    assert predictor.inputs[0]["dtype"] == "float32"
    out = predictor.run({predictor.inputs[0]["name"]: data.x[:8]})[0]
    assert out.shape == (8, 10)
