"""The Models page's Measurements tab on stored benchmarks: a hand-written summary (every part, exact
values) and a real benchmark of a quantized child against its parent."""
from __future__ import annotations

import json
import re

from engine import api
from tests.app.apphelp import by_label
from tests.app.conftest import run_job

SLOWER = ("The child is 2.10× slower than its parent at batch 1, 1 thread (p50 2.100 ms vs 1.000 ms); the ratio's "
          "95% CI is 1.90–2.30, so the loss is beyond the noise.")
CAUSE = "Quantize/dequantize ops take 40% of the kernel time (0.200 ms per run)."


def _cell(batch, threads, opt, p50):
    return {"batch": batch, "threads": threads, "opt_level": opt, "execution_mode": "sequential",
            "latency_ms": {"p50": p50, "p90": p50 * 1.1, "p99": p50 * 1.2, "mean": p50, "std": 0.0,
                           "ci95_p50": [p50 * 0.99, p50 * 1.01]},
            "throughput_per_s": batch * 1e3 / p50, "peak_rss_mb": 150.0, "runs": 100, "stopped_by": "ci"}


SUMMARY = {
    "runtime": "onnxruntime", "size_bytes": 927, "gzip_bytes": 489, "load_time_ms": 3.5, "cold_latency_ms": 0.3,
    "results": [_cell(b, 1, opt, p) for opt, p0 in (("all", 2.1), ("disable", 3.0)) for b, p in ((1, p0), (4, p0 * 3))],
    "roofline": [{"batch": b, "threads": 1, "opt_level": "all", "achieved_gflops": g, "peak_gflops": 98.0,
                  "percent_of_peak": 100 * g / 98.0} for b, g in ((1, 0.5), (4, 0.7))],
    "profile": {"runs": 20, "threads": 1, "opt_level": "all", "kernel_ms_per_run": 0.5,
                "op_types": [{"op_type": "DynamicQuantizeLinear", "class": "qdq", "ms_per_run": 0.2, "share": 0.4,
                              "nodes": 1},
                             {"op_type": "MatMulInteger", "class": "quantized", "ms_per_run": 0.2, "share": 0.4,
                              "nodes": 1},
                             {"op_type": "Relu", "class": "float", "ms_per_run": 0.1, "share": 0.2, "nodes": 1}],
                "quantized_share": 0.4, "qdq_share": 0.4, "float_share": 0.2, "unfused_qdq_pairs": 0},
    "explanations": [SLOWER, CAUSE], "explanation_tone": "warning", "compared_with": {"model_id": 1, "measurement_id": 1},
    "warnings": ["other processes (or neighbouring VMs) used 51% of the CPU while b1-t1-all-sequential was timed; "
                 "its numbers are unreliable — rerun on a quiet machine"],
    "concurrency": {"clients": 2, "batch": 1, "shared_session": None,
                    "session_per_client": {"intra_op_threads": 1, "runs": 50, "throughput_per_s": 900.0,
                                           "latency_ms": {"p50": 2.0, "p99": 3.0}}},
}


def _store(model_id: int, summary: dict) -> None:
    from storage import measurements
    from storage.db import session_scope

    with session_scope() as s:
        measurements.add_measurement(s, model_id=model_id, kind="benchmark", runtime="onnxruntime",
                                     summary=summary, samples={})


def _charts(at) -> dict[str, dict]:
    """Plotly charts on the page by title."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {})
        out[title.get("text") if isinstance(title, dict) else title] = spec
    return out


def test_measurements_tab_shows_explanation_warning_grid_roofline_profile_and_table(page, imported):
    _store(imported, SUMMARY)
    at = page("models", tab="Measurements")
    assert not at.exception and not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning]
    assert warnings[0] == f"{SLOWER}\n\n- {CAUSE}"  # the verdict first, as a warning, with its cause
    assert warnings[1] == SUMMARY["warnings"][0]
    charts = _charts(at)
    grid = charts["p50 latency over batch × threads"]
    assert [t["name"] for t in grid["data"]] == ["opt all", "opt disable"]
    assert [[round(v, 6) for v in row] for row in grid["data"][0]["z"]] == [[2.1, 6.3]]  # threads × batches
    roof = charts["Achieved GFLOP/s against the measured peak"]
    assert roof["data"][0]["text"] == ["0.5% of peak", "0.7% of peak"]
    assert [(s["y0"], s["y1"]) for s in roof["layout"]["shapes"]] == [(98.0, 98.0)]
    profile = charts["Where the time goes, per operator type"]
    assert [t["name"] for t in profile["data"]] == ["quantized kernels", "(de)quantize", "float kernels"]
    assert ("Quantized kernels 40% · (de)quantize 40% · float 20% of 0.500 ms kernel time per run "
            "(20 runs, 1 thread(s), opt level all).") in [c.value for c in at.caption]
    table = next(d.value for d in at.dataframe if "stopped by" in d.value.columns)
    assert list(table["opt level"]) == ["all", "all", "disable", "disable"]
    assert list(table["p50 95% CI (ms)"])[0] == "2.079 – 2.121"
    assert set(table["stopped by"]) == {"CI tight enough"} and list(table["% of peak"])[:2] == [
        100 * 0.5 / 98.0, 100 * 0.7 / 98.0]
    load = next(d.value for d in at.dataframe if "setup" in d.value.columns)
    assert list(load["setup"]) == ["a session per client"] and list(load["calls"]) == [50]


def test_measurements_tab_shows_the_latest_benchmark_and_pages_the_history(page, imported):
    _store(imported, dict(SUMMARY, explanations=[], warnings=[]))
    _store(imported, dict(SUMMARY, explanations=["The child is 3.00× as fast as its parent."], explanation_tone="info",
                          warnings=[]))
    at = page("models", tab="Measurements")
    assert [i.value for i in at.info] == ["The child is 3.00× as fast as its parent."]
    assert [e.label for e in at.expander if e.label.startswith("All ")] == ["All 2 measurements"]
    history = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert list(history["kind"]) == ["benchmark", "benchmark"] and list(history["id"]) == sorted(history["id"])[::-1]


def test_measurements_tab_explains_a_real_quantized_childs_benchmark_with_its_profile(page, imported):
    child = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    for model_id in (imported, child):
        run_job(api.submit_benchmark(model_id, {"batches": [1, 2], "threads": [1], "time_budget_s": 0.1}).id)
    at = page("models", model_id=child, tab="Measurements")
    assert at.subheader[0].value.startswith(f"#{child} ")
    boxes = [b.value for b in [*at.info, *at.warning]]
    verdicts = [b for b in boxes if b.startswith("The child is ")]
    assert len(verdicts) == 1, boxes
    assert re.match(r"The child is \d+\.\d\d× (slower than|as fast as) its parent at batch 1, 1 thread \(p50 ",
                    verdicts[0]), verdicts[0]
    assert f"Against the parent's (#{imported}) latest benchmark on this hardware:" in [c.value for c in at.caption]
    charts = _charts(at)
    profile = charts["Where the time goes, per operator type"]
    drawn = {y for t in profile["data"] for y in t["y"]}
    assert "quantized kernels" in [t["name"] for t in profile["data"]] and drawn
    assert any(c.value.startswith("Quantized kernels ") for c in at.caption)
    assert [t["type"] for t in charts["p50 latency over batch × threads"]["data"]] == ["heatmap"]
    assert "Achieved GFLOP/s against the measured peak" in charts


def test_models_page_benchmark_form_sends_load_test_and_opt_levels(page, imported):
    at = page("models")
    at.multiselect(key=f"bench:{imported}:opt_levels").set_value(["disable", "all"])
    at.number_input(key=f"bench:{imported}:concurrency").set_value(2)
    at.checkbox(key=f"bench:{imported}:profile").uncheck()
    by_label(at.button, "Benchmark").click().run()
    assert not at.error, [e.value for e in at.error]
    config = api.list_jobs()[0].params["config"]
    assert (config["opt_levels"], config["concurrency"], config["profile"]) == (["disable", "all"], 2, False)
