from __future__ import annotations

import pytest

from engine.measure.roofline import achieved, onnx_flops


def test_onnx_flops_counts_conv_and_matmul(graphs):
    assert onnx_flops(graphs["small_conv"]) == 2 * 8 * 16 * 16 * 8 * 9
    assert onnx_flops(graphs["small_conv"], batch=4) == 4 * 2 * 8 * 16 * 16 * 8 * 9
    assert onnx_flops(graphs["matmul"]) == 2 * 64 * 10


def test_achieved_rate_is_a_share_of_the_matching_peak():
    out = achieved(1e9, latency_ms=10.0, batch=2, threads=1, peak={"single_thread": 400.0, "all_threads": 700.0})
    assert out["achieved_gflops"] == pytest.approx(200.0) and out["percent_of_peak"] == pytest.approx(50.0)
    assert achieved(1e9, 10.0, 1, 2, None)["percent_of_peak"] is None
