"""Interleaved A/B timing: a real 2× difference is found, a model against itself is not."""
from __future__ import annotations

import pytest

from engine.errors import MeasureError
from engine.measure.compare import compare
from tests.measure.conftest import conv_graph


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ab")
    # 64 vs 32 channels: four times the MACs
    return conv_graph(folder / "light.onnx", channels=32, size=32), conv_graph(folder / "heavy.onnx", channels=64, size=32)


@pytest.mark.timing
def test_compare_finds_a_heavier_model_slower_beyond_noise(pair):
    light, heavy = pair
    out = compare(light, heavy, threads=2, time_budget_s=1.0)
    print(f"\nA {out['a']['p50_ms']:.3f} ms, B {out['b']['p50_ms']:.3f} ms, ratio {out['ratio_b_over_a']:.2f} "
          f"CI {out['ratio_ci95']}, pool: {out['thread_pool']}, pairs {out['pairs']}")
    assert out["significant"] and out["ratio_ci95"][0] > 1.5
    assert out["ratio_ci95"][0] <= out["ratio_b_over_a"] <= out["ratio_ci95"][1]
    assert out["a"]["ci95_p50"][0] <= out["a"]["p50_ms"] <= out["a"]["ci95_p50"][1]
    assert out["thread_pool"] == "shared global pool"


@pytest.mark.timing
def test_compare_of_a_model_with_itself_gives_a_ratio_near_one(pair):
    out = compare(pair[0], pair[0], threads=2, time_budget_s=1.0)
    print(f"\nself ratio {out['ratio_b_over_a']:.3f} CI {out['ratio_ci95']}")
    assert 0.95 < out["ratio_b_over_a"] < 1.05


@pytest.mark.timing
def test_compare_in_process_uses_quiet_per_session_pools(pair):
    out = compare(pair[0], pair[1], threads=2, time_budget_s=0.5, isolate=False)
    print(f"\nin-process ratio {out['ratio_b_over_a']:.2f} CI {out['ratio_ci95']}")
    assert out["thread_pool"] == "per-session pools, spinning off" and out["significant"]


def test_compare_leaves_the_calling_process_able_to_open_per_session_pools(pair):
    from engine.measure.runners import ort_options
    import onnxruntime as ort

    compare(pair[0], pair[1], threads=2, time_budget_s=0.2)
    ort.InferenceSession(str(pair[0]), ort_options(2), providers=["CPUExecutionProvider"])


def test_compare_refuses_a_file_that_is_not_a_model(pair, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(MeasureError, match="could not run the two models for comparison"):
        compare(pair[0], bad)


def test_a_timing_child_does_not_run_the_parents_main_script(pair, tmp_path, monkeypatch):
    """In the dashboard (and after AppTest) ``__main__`` is a page script; a spawn child that ran it again
    failed there, and the pool replaced the failed child forever: a hang."""
    import sys
    import types

    marker = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'a').write('x')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)  # what Streamlit leaves as __main__ after it runs a page
    monkeypatch.setitem(sys.modules, "__main__", page)
    out = compare(pair[0], pair[1], threads=1, min_pairs=5, time_budget_s=0.2)
    assert out["pairs"] >= 5
    assert not marker.exists(), "the timing child ran the parent's __main__ script"
    assert sys.modules["__main__"] is page  # put back as it was
