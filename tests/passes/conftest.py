"""Models and data the pass tests share: the digits CNN as an artifact with its data set, MobileNetV2 at
96×96 (weights=None), a tiny int32-token transformer, and an opset-9 network from onnx's light zoo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays
from engine.measure.hardware import isa_flags
from engine.passes.base import PassContext


@pytest.fixture(scope="session")
def digits(digits_files: tuple[Path, Path]) -> tuple[Artifact, DatasetArrays]:
    """(the trained digits CNN, its 450-row labelled test split)."""
    model, data = digits_files
    arrays = np.load(data)
    return Artifact(model, "keras"), DatasetArrays(arrays["x"], arrays["y"])


@pytest.fixture(scope="session")
def digits_onnx_artifact(digits_onnx: Path) -> Artifact:
    return Artifact(digits_onnx, "onnx")


@pytest.fixture(scope="session")
def mobilenet(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """MobileNetV2 (weights=None, seeded) at 96×96: a real depthwise/residual network, small enough to test."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10)
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenet.keras"
    model.save(path)
    return Artifact(path, "keras")


@pytest.fixture(scope="session")
def transformer(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """A one-block transformer classifier over int32 token ids (Embedding + MultiHeadAttention)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    tokens = keras.Input((16,), dtype="int32", name="tokens")
    x = layers.Embedding(100, 32, name="embed")(tokens)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=16, name="attention")(x, x)
    x = layers.LayerNormalization(name="norm")(layers.Add(name="residual")([x, attended]))
    x = layers.Dense(64, activation="relu", name="ffn")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = layers.Dense(4, activation="softmax", name="probs")(x)
    path = tmp_path_factory.mktemp("transformer") / "transformer.keras"
    keras.Model(tokens, outputs, name="tiny_transformer").save(path)
    return Artifact(path, "keras")


@pytest.fixture(scope="session")
def light_model_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def make_ctx(tmp_path: Path, dataset: DatasetArrays | None = None, **kwargs) -> PassContext:
    scratch = tmp_path / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("cpu_flags", isa_flags())  # this machine's, as the optimize job passes them
    return PassContext(scratch=scratch, dataset=dataset, **kwargs)


def op_types(path: Path) -> list[str]:
    import onnx

    return [n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node]
