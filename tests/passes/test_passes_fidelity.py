"""sample_feeds, compare and gate without any pass: generated inputs, name mapping, the tolerance rule."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import FidelityError
from engine.fidelity import compare, sample_feeds
from engine.passes.gate import gate
from engine.passes import PASSES
from engine.formats.datasets import DatasetArrays


def test_sample_feeds_generates_from_signature():
    feeds = sample_feeds([{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"},
                          {"name": "tokens", "shape": ["batch", None], "dtype": "int32"}], n=4)
    assert feeds["image"].shape == (4, 8, 8, 1) and feeds["image"].dtype == np.float32
    assert 0 <= feeds["image"].min() and feeds["image"].max() < 1
    assert feeds["tokens"].shape == (4, 8) and feeds["tokens"].dtype == np.int32 and feeds["tokens"].max() < 16


def test_sample_feeds_takes_dataset_rows_by_name_or_position():
    data = DatasetArrays({"a": np.zeros((10, 2)), "b": np.ones((10, 3))})
    feeds = sample_feeds([{"name": "serving_default_b:0", "shape": [None, 3], "dtype": "float32"},
                          {"name": "x", "shape": [None, 2], "dtype": "float32"}], n=5, dataset=data)
    assert feeds["serving_default_b:0"].shape == (5, 3) and feeds["serving_default_b:0"].max() == 1
    assert feeds["x"].shape == (5, 2)


def test_compare_maps_onnx_names_to_keras_feed(digits, digits_onnx_artifact):
    artifact, data = digits
    metrics = compare(artifact, digits_onnx_artifact, {"serving_default_image:0": data.x[:16]})
    assert metrics["max_abs_diff"] < 1e-4 and metrics["top1_agreement"] == 1.0 and metrics["samples"] == 16


def test_gate_uses_relative_tolerance_for_large_outputs():
    spec = PASSES["tf2onnx"]
    gate(spec, {"max_abs_diff": 0.05, "mean_rel_diff": 1e-4, "output_scale": 100.0, "top1_agreement": 1.0})
    with pytest.raises(FidelityError, match="differs from its parent by up to 0.5"):
        gate(spec, {"max_abs_diff": 0.5, "mean_rel_diff": 1e-3, "output_scale": 100.0, "top1_agreement": 1.0})


def test_gate_by_top1_agreement_refuses_only_beyond_a_samples_chance():
    """A Q/DQ conversion flips a few near-tie samples: 189 of 200 (94.5%) could come from a conversion that
    agrees 95% of the time, so it passes; 160 of 200, or 90% of 512, cannot, and are refused with the interval."""
    from engine.passes.gate import agreement_ci

    spec = PASSES["tf2onnx"]
    close = {"max_abs_diff": 0.05, "mean_rel_diff": 0.01, "output_scale": 1.0, "top1_agreement": 0.945, "samples": 200}
    gate(spec, close, tolerance=0.1, min_agreement=0.95)
    low, high = agreement_ci(0.945, 200)
    assert low < 0.945 < 0.95 < high
    with pytest.raises(FidelityError, match=r"80.0% of 200 samples \(95% CI 73.9%–85.0%; needs 95%\)"):
        gate(spec, {**close, "top1_agreement": 0.80}, tolerance=0.1, min_agreement=0.95)
    with pytest.raises(FidelityError, match="of 512 samples"):
        gate(spec, {**close, "top1_agreement": 0.90, "samples": 512}, tolerance=0.1, min_agreement=0.95)


def test_gate_ignores_compressions_and_quantized_tflite():
    numbers = {"max_abs_diff": 0.9, "mean_rel_diff": 0.5, "output_scale": 1.0, "top1_agreement": 0.5}
    gate(PASSES["prune"], numbers)
    gate(PASSES["tflite"], numbers, config=PASSES["tflite"].config(quantization="int8"))
    with pytest.raises(FidelityError):
        gate(PASSES["tflite"], numbers, config=PASSES["tflite"].config(quantization="none"))


def test_children_of_one_parent_are_checked_against_its_outputs_computed_once(digits, digits_onnx_artifact, tmp_path,
                                                                              monkeypatch):
    from engine import runtime
    from engine.passes.gate import run_pass
    from tests.passes.conftest import make_ctx

    opened: list[str] = []
    real = runtime.open_model
    monkeypatch.setattr(runtime, "open_model", lambda a, *rest: opened.append(str(a.path)) or real(a, *rest))
    shared: dict = {}
    results = []
    for name in ("onnx-optimize", "ort-quantize-dynamic"):
        ctx = make_ctx(tmp_path / name, digits[1], reference_outputs=shared)
        results.append(run_pass(PASSES[name], digits_onnx_artifact, PASSES[name].config(), ctx))
    assert opened.count(str(digits_onnx_artifact.path)) == 1  # one load for both checks, inputs included
    assert list(shared) == [(str(digits_onnx_artifact.path.resolve()), 64)]
    alone = run_pass(PASSES["ort-quantize-dynamic"], digits_onnx_artifact, PASSES["ort-quantize-dynamic"].config(),
                     make_ctx(tmp_path / "alone", digits[1]))
    assert alone.metrics["fidelity"] == results[1].metrics["fidelity"]  # the same numbers as a check of its own
    assert results[0].metrics["fidelity"]["max_abs_diff"] < 1e-4
