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


# ---------------------------------------------------------------- a peak measured under load is not a peak
KEY = {"cpu": "test cpu", "cores": {"logical": 2}, "numpy": "2"}


def _peak(load: float | None, single: float = 100.0, every: float = 180.0) -> dict:
    peak = {"key": KEY, "single_thread": single, "all_threads": every}
    return peak if load is None else {**peak, "other_load": load}


def test_a_peak_probed_under_load_is_not_quiet_and_never_replaces_a_cached_one():
    from engine.measure.load import NOISY
    from engine.measure.roofline import measured_quietly, replaces

    assert measured_quietly(_peak(0.03)) and measured_quietly(_peak(NOISY))
    assert not measured_quietly(_peak(0.56)) and not measured_quietly(_peak(None))  # unknown load: not known quiet
    assert not replaces(_peak(0.56, 400.0, 400.0), None)  # not even into an empty cache
    assert replaces(_peak(0.03), None)
    assert replaces(_peak(0.03), _peak(0.56, 300.0, 300.0))  # a quiet probe replaces a loaded one, even if lower
    assert replaces(_peak(0.03), _peak(None))  # and one that never said its load (cached before loads were kept)
    assert replaces(_peak(0.03), {**_peak(0.03, 500.0, 500.0), "key": {**KEY, "cpu": "other"}})
    assert not replaces(_peak(0.03), _peak(0.02))  # the same figures: nothing to write
    assert not replaces(_peak(0.03, 90.0), _peak(0.02))  # a lower quiet probe does not lower the peak
    assert replaces(_peak(0.03, 148.2), _peak(0.02))  # a model did more than the peak: the higher figure is kept
    assert not replaces({**_peak(0.03), "key": None}, None)


def test_a_figure_above_the_peak_raises_the_peak_it_is_judged_against():
    from engine.measure.roofline import raised_peak

    peak = _peak(0.02)
    assert raised_peak(peak, [{"threads": 1, "achieved_gflops": 99.0}]) is None
    raised = raised_peak(peak, [{"threads": 1, "achieved_gflops": 148.04}, {"threads": 2, "achieved_gflops": 150.0}])
    assert raised["single_thread"] == 148.1 and raised["all_threads"] == 180.0 and raised["raised_by_benchmark"]
    assert peak["single_thread"] == 100.0  # the measured record itself is left as it was
    assert achieved(148.04e9, 1000.0, 1, 1, raised)["percent_of_peak"] <= 100.0
    # two threads are judged against the better rate; only a figure above both raises the all-thread one
    assert raised_peak(_peak(0.02, 200.0, 150.0), [{"threads": 2, "achieved_gflops": 190.0}]) is None
    assert raised_peak(peak, [{"threads": 4, "achieved_gflops": 250.0}])["all_threads"] == 250.0
    # integer work is judged against the float32 peak only for scale: it says nothing about that peak
    assert raised_peak(peak, [{"threads": 1, "achieved_gflops": 300.0, "integer_work": True}]) is None
    assert raised_peak(None, [{"threads": 1, "achieved_gflops": 300.0}]) is None


def test_a_benchmark_above_a_loaded_peak_is_shown_against_the_raised_peak_and_only_a_quiet_one_is_kept(
        tmp_path, monkeypatch):
    """The reported case: a peak probed while other processes used 56% of the CPU had a model read 148%."""
    import json

    from engine.jobs.kinds.measuring import _judge, _keep_peak

    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path))
    model = {"flops": 148_000_000, "flops_at": None, "pass": None}  # 148 GFLOP/s at 1 ms
    result = {"results": [{"batch": 1, "threads": 1, "opt_level": "all", "latency_ms": {"p50": 1.0}}]}
    cells, peak = _judge(model, result, _peak(0.56))
    (cell,) = cells
    assert cell["percent_of_peak"] == pytest.approx(100.0, abs=0.1)
    assert cell["peak_gflops"] == pytest.approx(148.0, abs=0.11)
    assert "above the stored float32 peak (100.0 GFLOP/s)" in cell["note"]
    cache = tmp_path / "hardware" / "peak_gflops.json"
    _keep_peak(peak)
    assert not cache.exists()  # raised or not, a peak probed under load is not cached

    _keep_peak(_peak(0.02))
    assert json.loads(cache.read_text())["single_thread"] == 100.0
    cells, peak = _judge(model, result, json.loads(cache.read_text()))
    _keep_peak(peak)
    assert json.loads(cache.read_text())["single_thread"] == peak["single_thread"] >= 148.0  # the model did more
    _keep_peak(_peak(0.02))
    assert json.loads(cache.read_text())["single_thread"] == peak["single_thread"]  # a lower probe keeps it
    assert _judge(model, result, _peak(0.02, 200.0))[0][0]["percent_of_peak"] == pytest.approx(74.0)


def test_a_peak_probed_under_load_is_reused_for_a_while_but_never_cached_as_the_peak(tmp_path, monkeypatch):
    """On a busy machine each benchmark job probed the GEMM peak again (about 2 s): the probe under load is now
    reused, marked by its load, for ten minutes; only a quiet probe becomes the machine's cached peak."""
    import json
    from contextlib import contextmanager
    from types import SimpleNamespace

    from engine.measure import hardware

    probes, load = [], {"other": 0.6}

    @contextmanager
    def meter():  # noqa: ANN202
        yield SimpleNamespace(other_load=load["other"])

    monkeypatch.setattr(hardware, "LoadMeter", meter)
    monkeypatch.setattr(hardware, "_gemm_rate", lambda n, seconds: probes.append(n) or 50.0)
    cache = tmp_path / "peak_gflops.json"
    first = hardware.peak_gflops(cache_path=cache)
    assert first["other_load"] == 0.6 and len(probes) == 2
    again = hardware.peak_gflops(cache_path=cache)
    assert again == first and len(probes) == 2  # reused: no second probe
    assert not cache.exists()  # and not the machine's peak

    busy = tmp_path / "peak_gflops.busy.json"
    busy.write_text(json.dumps({**first, "probed_at": first["probed_at"] - hardware.BUSY_REUSE_S - 1}))
    hardware.peak_gflops(cache_path=cache)
    assert len(probes) == 4  # too old: probed again

    load["other"] = 0.01
    quiet = hardware.peak_gflops(cache_path=cache, refresh=True)
    assert json.loads(cache.read_text()) == quiet and len(probes) == 6
    assert hardware.peak_gflops(cache_path=cache) == quiet and len(probes) == 6  # the quiet peak comes first
