"""Explanations come from evidence and cite it."""
from __future__ import annotations

import re

from engine.measure.explain import explain, tone

NO_VNNI = {"cpu": "Intel Xeon E5-2680 v4", "cores": {"logical": 2, "physical": 2},
           "flags": {"avx2": True, "avx512_vnni": False, "avx_vnni": False, "amx_int8": False}}
VNNI = {**NO_VNNI, "cpu": "AMD EPYC", "flags": {"avx2": True, "avx512_vnni": True}}


def bench(p50: float, lo: float, hi: float, threads: int = 1, **extra) -> dict:
    return {"results": [{"batch": 1, "threads": threads, "opt_level": "all", "execution_mode": "sequential",
                         "latency_ms": {"p50": p50, "ci95_p50": [lo, hi]}}], **extra}


PROFILE = {"quantized": True, "quantized_share": 0.4, "qdq_share": 0.3, "float_compute_share": 0.2,
           "kernel_ms_per_run": 1.0, "unfused_qdq_pairs": 3, "unfused_examples": ["Exp:exp", "Sigmoid:s1"],
           "float_compute_ops": {"MatMul": 2},
           "op_types": [{"op_type": "ConvInteger", "share": 0.6, "ms_per_run": 0.6},
                        {"op_type": "DynamicQuantizeLinear", "share": 0.3, "ms_per_run": 0.3}]}


def test_slower_int8_child_on_a_cpu_without_vnni_names_the_evidence():
    lines = explain(bench(1.0, 0.98, 1.02), bench(2.0, 1.95, 2.05, profile=PROFILE), NO_VNNI)
    text = "\n".join(lines)
    print("\n" + text)
    assert lines[0].startswith("The child is 2.00× slower than its parent at batch 1, 1 thread")
    assert "beyond the noise" in lines[0]
    assert "Intel Xeon E5-2680 v4 reports no VNNI or AMX instructions" in text
    assert "3 DequantizeLinear → op → QuantizeLinear pattern(s) were left unfused" in text
    assert "Exp:exp" in text
    assert "2 compute op(s) fell back to float (MatMul ×2, 20% of kernel time)" in text
    assert "Quantize/dequantize ops take 30% of the kernel time (0.300 ms per run)" in text
    assert "DynamicQuantizeLinear computes each activation's scale at run time" in text
    assert "Most of the child's kernel time goes to ConvInteger (60%, 0.600 ms per run)" in text


def test_slower_child_on_a_vnni_cpu_says_the_isa_is_not_the_cause():
    text = "\n".join(explain(bench(1.0, 0.98, 1.02), bench(1.5, 1.45, 1.55), VNNI, {"quantized": True}))
    assert "AMD EPYC reports avx512_vnni, so int8 dot products are native here" in text


def test_tiny_model_and_oversubscribed_threads_are_named():
    parent = bench(0.05, 0.049, 0.051, threads=4)
    child = bench(0.08, 0.078, 0.082, threads=4)
    text = "\n".join(explain(parent, child, NO_VNNI, {"quantized": True}))
    assert "4 threads on 2 physical cores" in text
    assert "The parent needs only 0.050 ms per batch" in text


def test_faster_child_says_by_how_much_and_that_it_is_beyond_noise():
    lines = explain(bench(2.0, 1.9, 2.1), bench(1.0, 0.95, 1.05), NO_VNNI)
    assert lines == ["The child is 2.00× as fast as its parent at batch 1, 1 thread (p50 1.000 ms vs 2.000 ms); "
                     "the medians' 95% CIs do not overlap, so the gain is beyond the noise."]


def test_overlapping_intervals_are_called_noise():
    lines = explain(bench(1.0, 0.9, 1.1), bench(1.02, 0.95, 1.12, profile=PROFILE), NO_VNNI)
    assert len(lines) == 1 and "so the loss is within the noise" in lines[0]


def test_samples_give_a_bootstrap_ratio_interval():
    import numpy as np

    rng = np.random.default_rng(0)
    parent = bench(1.0, 0.9, 1.1, samples={"b1-t1-all-sequential": list(1.0 + 0.01 * rng.random(50))})
    child = bench(1.5, 1.4, 1.6, samples={"b1-t1-all-sequential": list(1.5 + 0.01 * rng.random(50))})
    lines = explain(parent, child, VNNI)
    found = re.search(r"the ratio's 95% CI is (\d\.\d\d)–(\d\.\d\d), so the loss is beyond the noise", lines[0])
    assert found and 1.45 <= float(found[1]) <= 1.50 <= float(found[2]) <= 1.55, lines[0]


def test_no_matching_cell_gives_no_sentences():
    other = {"results": [{**bench(1, 1, 1)["results"][0], "batch": 8}]}
    assert explain(bench(1, 1, 1), other, NO_VNNI) == []


def test_grid_results_are_matched_cell_by_cell():
    parent = {"results": [{**bench(1.0, 0.98, 1.02)["results"][0], "opt_level": lvl} for lvl in ("basic", "all")]}
    child = {"results": [{**bench(3.0, 2.9, 3.1)["results"][0], "opt_level": "basic"},
                         {**bench(0.5, 0.49, 0.51)["results"][0], "opt_level": "all"}]}
    lines = explain(parent, child, VNNI)
    assert "slower" in lines[0] and "(p50 3.000 ms vs 1.000 ms)" in lines[0]


def test_identical_graphs_are_never_called_faster_or_slower():
    lines = explain(bench(0.048, 0.046, 0.050), bench(0.025, 0.024, 0.026), NO_VNNI, identical=True)
    assert len(lines) == 1
    assert "computes exactly what its parent does" in lines[0] and "measurement noise" in lines[0]
    assert "as fast" not in lines[0] and "beyond the noise" not in lines[0]


def test_tone_warns_only_about_a_loss_beyond_the_noise():
    assert tone(bench(1.0, 0.98, 1.02), bench(2.0, 1.95, 2.05)) == "warning"
    assert tone(bench(1.0, 0.9, 1.1), bench(1.04, 0.95, 1.12)) == "info"  # the medians' CIs overlap
    assert tone(bench(2.0, 1.95, 2.05), bench(1.0, 0.98, 1.02)) == "info"  # faster
    assert tone(bench(1.0, 0.98, 1.02), bench(2.0, 1.95, 2.05), identical=True) == "info"
    assert tone(bench(1.0, 0.98, 1.02), {"results": []}) == "info"  # no shared cell
