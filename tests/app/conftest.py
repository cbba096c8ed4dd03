"""Dashboard fixtures: a tiny real ONNX model imported through the api, and an AppTest per page."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


def write_tiny_onnx(path: Path, seed: int = 0) -> Path:
    """x[N,4] → MatMul(4×3) → Relu → y[N,3]: two nodes, twelve weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(seed).random((4, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Relu", ["h"], ["y"], name="relu")],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def tiny_onnx(tmp_path: Path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


def run_job(job_id: int):
    """Run a queued job to its end here (no worker is alive in tests) and return its record."""
    from engine.jobs import service

    return service.wait(job_id, timeout_s=300)


@pytest.fixture()
def imported(home: Path, tiny_onnx: Path) -> int:
    """The id of the tiny ONNX model, imported through the api as the dashboard does."""
    from engine import api

    job = api.submit_import(tiny_onnx, name="tiny")
    return run_job(job.id).result["model_id"]


@pytest.fixture()
def page(home: Path) -> Callable:
    """``page("models")`` → an AppTest that has run the app and switched to that page."""
    from streamlit.testing.v1 import AppTest

    def open_page(name: str = "home", **state):
        import streamlit as st

        st.cache_data.clear()  # list queries are cached 2 s per process; each test page starts fresh
        at = AppTest.from_file(str(APP), default_timeout=120)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        if name != "home":
            at.switch_page(f"app_pages/{name}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page

