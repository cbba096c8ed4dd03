"""Helpers for hostile-file tests: an isolated inspector process and tiny models to mutate."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("inspect_worker.py")


class IsolatedInspector:
    """Runs prepare_upload + inspect_model in a child; a native crash is reported, not propagated."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
        return subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)

    def inspect(self, path: Path) -> dict[str, Any]:
        """{'outcome': 'ok'|'refused'|'escaped'|'crashed', ...}; 'crashed' carries the signal."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line:
            return json.loads(line)
        code = self.proc.wait(timeout=30)
        self.proc = None
        # what the job layer stores for a child that died: the file is damaged, with the signal
        return {"outcome": "crashed", "code": code, "message": f"the model file is damaged (signal {-code})"}

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def isolated() -> IsolatedInspector:
    inspector = IsolatedInspector()
    yield inspector
    inspector.close()


def tiny_onnx_model(external: bool = False) -> Any:
    """x[1,4] → MatMul(W[4,4]) → Relu → y, opset 17."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture(scope="session")
def tiny_onnx_bytes() -> bytes:
    return tiny_onnx_model().SerializeToString()


@pytest.fixture(scope="session")
def tiny_tflite_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small Conv + Dense TFLite flatbuffer converted from a Keras model."""
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    folder = tmp_path_factory.mktemp("tiny_tflite") / "sm"
    model.export(folder, verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(str(folder)).convert()
