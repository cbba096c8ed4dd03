"""What a search's timing becomes as a benchmark: a benchmark job's shape, its summary from every run, a few
hundred runs kept, and words saying which search timed it (the real searches' figures are checked in
tests/app/test_pages_auto.py, tests/auto/test_cancel.py and tests/cli/test_cli_auto.py)."""
from __future__ import annotations

import numpy as np

from engine.auto.measured import FINAL, KEPT_SAMPLES, SCREENING, benchmark_summary, thinned, timing_record
from engine.provenance import latency_text, ratio_basis, setting, source_text


def _runs(n: int) -> list[float]:
    return list(np.random.default_rng(0).lognormal(np.log(0.05), 0.2, n))


def test_the_summary_comes_from_every_run_and_a_few_hundred_are_kept_in_order():
    runs = _runs(10_001)
    record = timing_record("k", runs, FINAL, {"runtime": "onnxruntime", "threads": 2, "batch": 4,
                                              "execution_mode": "sequential", "opt_level": "all"}, "ci", 3.6,
                           ratio=0.8, ratio_ci95=[0.78, 0.82], sizes=(1000, 600))
    assert record["latency_ms"]["p50"] == float(np.median(runs)) and record["runs"] == 10_001
    assert record["latency_ms"]["p99"] == float(np.percentile(runs, 99))
    assert len(record["samples"]) <= KEPT_SAMPLES and record["samples"][:2] == thinned(runs)[:2]
    assert record["samples"][1] == round(runs[40], 5)  # every 40th run of 10,001, in time order
    summary, samples = benchmark_summary(record, job_id=7, model_id=3, reference_id=1)
    (cell,) = summary["results"]
    assert (cell["batch"], cell["threads"], cell["opt_level"], cell["execution_mode"]) == (4, 2, "all", "sequential")
    assert cell["throughput_per_s"] == 4e3 / record["latency_ms"]["mean"] and cell["runs"] == 10_001
    assert list(samples) == ["b4-t2-all-sequential"] and samples["b4-t2-all-sequential"] == record["samples"]
    assert (summary["size_bytes"], summary["gzip_bytes"], summary["source"]) == (1000, 600, "auto")
    assert source_text(summary) == "timed by the search (job #7, final round-robin against #1: 0.80× its latency, " \
                                   "95% CI 0.78–0.82)"
    assert latency_text(summary, "onnxruntime", None).endswith("hardware unknown · " + source_text(summary))


def test_a_screening_figure_is_not_divided_by_a_finals_or_benchmark_jobs_as_like_with_like():
    ort = {"runtime": "onnxruntime", "threads": 2, "batch": 1, "execution_mode": "sequential", "opt_level": "all"}
    screened, _ = benchmark_summary(timing_record("s", _runs(60), SCREENING, ort, "ci", 0.6), 7, 3, 1)
    final, _ = benchmark_summary(timing_record("f", _runs(60), FINAL, ort, "ci", 2.4), 7, 1, 1)
    assert screened["results"][0]["thread_pool"] == "shared" and "thread_pool" not in final["results"][0]
    assert ratio_basis(setting(screened, None), setting(final, None), 1, 1) == "different settings"
    assert ratio_basis(setting(screened, None), setting(screened, None), 1, 1) == "like with like"
    assert " · shared thread pool · " in latency_text(screened, None, None)


def test_a_tflite_candidate_has_no_session_settings_and_the_reference_says_what_it_was():
    record = timing_record("t", _runs(50), SCREENING, {"runtime": "tflite", "threads": 1, "batch": 1,
                                                       "delegate": "XNNPACK"}, "budget", 0.6)
    summary, samples = benchmark_summary(record, job_id=7, model_id=1, reference_id=1)
    assert summary["runtime"] == "tflite" and list(samples) == ["b1-t1"]
    assert summary["results"][0]["opt_level"] is None and "opt_levels" not in summary["config"]
    assert source_text(summary) == ("timed by the search (job #7, screening A/B, as the reference every candidate "
                                    "was timed against)")
    assert source_text({"results": []}) == ""  # a benchmark job's figures need no word on their source
