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
