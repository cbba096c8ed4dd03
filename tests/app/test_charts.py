"""Chart and table builders are pure: plain rows in, figures and rows out."""
from __future__ import annotations

import pytest

from app import charts, tables, variant_charts

ROWS = [  # as api.compare returns them
    {"id": 1, "name": "net", "format": "keras", "pass": None, "size_bytes": 40_000, "latency_p50_ms": 2.0,
     "latency_p99_ms": 2.5, "accuracy": 0.95, "agreement": None,
     "delta": {"latency_p50_ms": 1.0, "size_bytes": 1.0, "accuracy": 1.0}, "pareto": False},
    {"id": 2, "name": "net", "format": "onnx", "pass": "tf2onnx", "size_bytes": 38_000, "latency_p50_ms": 0.5,
     "latency_p99_ms": 0.7, "accuracy": 0.95, "agreement": 1.0,
     "delta": {"latency_p50_ms": 0.25, "size_bytes": 0.95, "accuracy": 1.0}, "pareto": True},
    {"id": 3, "name": "net", "format": "onnx", "pass": "ort-quantize-dynamic", "size_bytes": 12_000,
     "latency_p50_ms": 0.9, "latency_p99_ms": None, "accuracy": 0.94, "agreement": 0.98,
     "delta": {"latency_p50_ms": 0.45, "size_bytes": 0.3, "accuracy": 0.99}, "pareto": True},
    {"id": 4, "name": "net", "format": "tflite", "pass": "tflite", "size_bytes": 39_000, "latency_p50_ms": None,
     "latency_p99_ms": None, "accuracy": None, "agreement": None, "delta": {}, "pareto": False},
]
FAMILY = [
    {"id": 1, "name": "net", "format": "keras", "parent_id": None, "pass": None, "size_bytes": 40_000},
    {"id": 2, "name": "net", "format": "onnx", "parent_id": 1, "pass": "tf2onnx", "size_bytes": 38_000},
    {"id": 3, "name": "net", "format": "onnx", "parent_id": 2, "pass": "ort-quantize-dynamic", "size_bytes": 12_000},
    {"id": 4, "name": "net", "format": "tflite", "parent_id": 1, "pass": "tflite", "size_bytes": 39_000},
]


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_tradeoff_scatter_has_one_point_per_timed_variant_and_marks_the_front():
    fig = variant_charts.tradeoff_scatter(ROWS, champion_id=3)
    points = _trace(fig, "variants")
    assert list(points.customdata) == [1, 2, 3]
    assert list(points.x) == [40_000 / 1024, 38_000 / 1024, 12_000 / 1024]
    assert list(points.y) == [2.0, 0.5, 0.9]
    assert list(points.marker.symbol) == ["circle", "circle", "star"]
    assert list(points.marker.line.width) == [1, 3, 3]
    assert list(points.marker.color) == [0.95, 0.95, 0.94]  # accuracy as colour
    assert len(_trace(fig, "Pareto front").x) == 2


def test_tradeoff_scatter_colours_by_format_without_accuracy():
    fig = variant_charts.tradeoff_scatter([dict(r, accuracy=None) for r in ROWS[:2]])
    assert list(_trace(fig, "variants").marker.color) == [charts.FORMAT_COLOURS["keras"], charts.FORMAT_COLOURS["onnx"]]


def test_latency_bars_draw_p50_bars_with_their_ci_and_p99_as_separate_ticks():
    rows = [dict(r, latency_ci95=[r["latency_p50_ms"] * 0.9, r["latency_p50_ms"] * 1.2])
            if r.get("latency_p50_ms") else r for r in ROWS]
    fig = variant_charts.latency_bars(rows, champion_id=2)
    bars, p99 = _trace(fig, "p50"), _trace(fig, "p99")
    assert list(bars.x) == ["#1 root", "#2 tf2onnx", "#3 ort-quantize-dynamic"]
    assert list(bars.y) == [2.0, 0.5, 0.9]
    # the whisker is the median's CI, not the tail: p99 is a tick of its own
    assert [round(v, 6) for v in bars.error_y.array] == [0.4, 0.1, 0.18]
    assert [round(v, 6) for v in bars.error_y.arrayminus] == [0.2, 0.05, 0.09]
    assert list(p99.x) == ["#1 root", "#2 tf2onnx"] and list(p99.y) == [2.5, 0.7]  # #3 has no p99
    assert p99.mode == "markers" and p99.marker.symbol == "line-ew"
    assert bars.marker.color[1] == charts.CHAMPION_GOLD
    assert fig.layout.yaxis.type != "log"  # 0.5 to 2.5 ms: a linear axis reads best


def test_latency_bars_keep_tiny_p50s_readable_beside_a_loaded_machines_p99():
    # p50 0.02-0.6 ms against p99 10-30 ms: on a linear axis every bar but one would be a sliver
    rows = [{"id": i, "format": "onnx", "pass": p, "latency_p50_ms": p50, "latency_p99_ms": p99,
             "latency_ci95": None} for i, p, p50, p99 in
            ((1, None, 0.6, 30.0), (2, "tf2onnx", 0.02, 12.0), (3, "onnx-optimize", 0.018, 10.0))]
    fig = variant_charts.latency_bars(rows)
    axis = fig.layout.yaxis
    assert axis.type == "log"
    low, high = axis.range
    assert 10 ** low < 0.018 and 10 ** high > 30  # every bar and every p99 tick fits
    assert 0.018 / 10 ** low < 3  # the smallest bar stands clear of the axis floor, not squashed under it
    assert list(axis.ticktext) == [f"{v:g}" for v in axis.tickvals]  # plain numbers, no bare 2 and 5
    assert list(axis.ticktext) == ["0.01", "0.1", "1", "10"]  # over three decades: decades only
    assert list(_trace(fig, "p99").y) == [30.0, 12.0, 10.0]
    assert not any(_trace(fig, "p50").error_y.array)  # no CI recorded: no whisker drawn


def test_lineage_figure_places_children_right_of_parents_with_pass_labels():
    fig = charts.lineage_figure(FAMILY, champion_id=3, selected_id=2)
    nodes = _trace(fig, "variants")
    assert list(nodes.customdata) == [1, 2, 3, 4]
    assert list(nodes.x) == [0.0, 1.0, 2.0, 1.0]
    assert nodes.marker.symbol[2] == "star" and nodes.marker.size[1] == 26
    assert sorted(_trace(fig, "passes").text) == ["ort-quantize-dynamic", "tf2onnx", "tflite"]
    edges = _trace(fig, "derivations")
    assert sum(v is None for v in edges.x) == 3


def test_tree_positions_give_leaves_distinct_rows():
    pos = charts.tree_positions(FAMILY)
    assert pos[3][1] != pos[4][1]
    assert pos[1][1] == (pos[3][1] + pos[4][1]) / 2


def test_op_histogram_and_benchmark_figures_have_a_bar_per_entry():
    fig = charts.op_histogram_figure({"Conv": 3, "Relu": 3, "Gemm": 1})
    assert list(fig.data[0].y) == ["Gemm", "Conv", "Relu"] and list(fig.data[0].x) == [1, 3, 3]
    results = [{"batch": 1, "threads": 1, "opt_level": "all", "latency_ms": {"p50": 1.0, "p90": 1.2, "p99": 1.5}},
               {"batch": 8, "threads": 2}]  # a cell with keys missing still draws
    fig = charts.benchmark_figure(results)
    assert list(fig.data[0].x) == ["batch 1 · 1 thr · all", "batch 8 · 2 thr"]
    assert list(fig.data[0].y) == [1.0, None]
    assert fig.layout.yaxis.type != "log"  # 1 to 1.5 ms: linear
    loaded = charts.benchmark_figure([{"batch": 1, "threads": 2, "latency_ms": {"p50": 0.02, "p90": 3.0, "p99": 12.0}}])
    assert loaded.layout.yaxis.type == "log" and list(loaded.layout.yaxis.ticktext) == ["0.01", "0.1", "1", "10"]


def test_tables_format_numbers_and_rows():
    assert tables.human_bytes(155) == "155 B" and tables.human_bytes(40_000) == "39.1 KiB"
    assert tables.human_count(24) == "24" and tables.human_count(2_500_000) == "2.50 M"
    assert tables.shape_text(["N", 4]) == "[?, 4]" and tables.shape_text([None, 8, 8, 1]) == "[?, 8, 8, 1]"
    rows = tables.compare_table(ROWS, {2, 3}, 3)
    assert [r["Pareto"] for r in rows] == ["", "✓", "✓", ""]
    assert [r["champion"] for r in rows] == ["", "", "★", ""]
    assert rows[2]["size × root"] == 0.3
    assert tables.job_outcome({"id": 5, "kind": "import", "status": "failed", "error": "the file is damaged"}) == \
        "Job #5 (import) failed: the file is damaged"


def test_benchmark_rows_join_roofline_cells_in_either_shape():
    results = [{"batch": 1, "threads": 1, "opt_level": "all", "latency_ms": {"p50": 1.0}},
               {"batch": 8, "threads": 1, "opt_level": "all"}]
    cells = [{"batch": 8, "threads": 1, "opt_level": "all", "achieved_gflops": 3.0, "percent_of_peak": 30.0}]
    rows = tables.benchmark_rows(results, cells)
    assert [r["GFLOP/s"] for r in rows] == [None, 3.0] and rows[1]["% of peak"] == 30.0
    assert [r["GFLOP/s"] for r in tables.benchmark_rows(results, {"achieved_gflops": 2.0})] == [2.0, 2.0]
    assert tables.benchmark_rows(results, None)[0]["p50 ms"] == 1.0


PROFILE = {  # as engine.measure.profile.profile_onnx returns it (trimmed)
    "runs": 20, "threads": 1, "opt_level": "all", "kernel_ms_per_run": 0.5,
    "op_types": [{"op_type": "DynamicQuantizeLinear", "class": "qdq", "ms_per_run": 0.2, "share": 0.4, "nodes": 2},
                 {"op_type": "MatMulInteger", "class": "quantized", "ms_per_run": 0.15, "share": 0.3, "nodes": 2},
                 {"op_type": "Relu", "class": "float", "ms_per_run": 0.1, "share": 0.2, "nodes": 1},
                 {"op_type": "Conv", "class": "float", "ms_per_run": 0.05, "share": 0.1, "nodes": 1}],
    "quantized_share": 0.3, "qdq_share": 0.4, "float_share": 0.3, "unfused_qdq_pairs": 2,
    "float_compute_ops": {"Conv": 1},
}


def test_profile_figure_colours_op_types_by_class_with_shares_in_percent():
    fig = charts.profile_figure(PROFILE)
    assert [t.name for t in fig.data] == ["quantized kernels", "(de)quantize", "float kernels"]
    quantized, qdq, floats = fig.data
    assert list(quantized.y) == ["MatMulInteger"] and list(quantized.x) == [30.0]
    assert list(qdq.y) == ["DynamicQuantizeLinear"] and list(qdq.x) == [40.0]
    assert list(floats.y) == ["Relu", "Conv"] and [round(v, 6) for v in floats.x] == [20.0, 10.0]
    assert quantized.marker.color == charts.CLASS_COLOURS["quantized"] != floats.marker.color
    assert list(qdq.text) == ["40% · 0.200 ms"]
    # largest share on top: the y axis lists categories bottom-up
    assert list(fig.layout.yaxis.categoryarray) == ["Conv", "Relu", "MatMulInteger", "DynamicQuantizeLinear"]


def test_profile_figure_keeps_only_the_top_op_types():
    fig = charts.profile_figure(PROFILE, top=2)
    assert sorted(y for t in fig.data for y in t.y) == ["DynamicQuantizeLinear", "MatMulInteger"]


def test_profile_caption_states_class_shares_and_what_stayed_unfused():
    assert charts.profile_caption(PROFILE) == (
        "Quantized kernels 30% · (de)quantize 40% · float 30% of 0.500 ms kernel time per run "
        "(20 runs, 1 thread(s), opt level all). 2 DequantizeLinear → op → QuantizeLinear pattern(s) left "
        "unfused. Compute ops left in float: Conv ×1.")
    assert charts.profile_caption({"quantized_share": 0.0, "float_share": 1.0}) == \
        "Quantized kernels 0% · (de)quantize 0% · float 100%."


ROOF = [{"batch": 1, "threads": 1, "opt_level": "all", "achieved_gflops": 10.0, "peak_gflops": 50.0,
         "percent_of_peak": 20.0},
        {"batch": 8, "threads": 2, "opt_level": "all", "achieved_gflops": 30.0, "peak_gflops": 80.0,
         "percent_of_peak": 37.5},
        {"batch": 16, "threads": 2, "opt_level": "all", "achieved_gflops": None}]


def test_roofline_figure_draws_achieved_bars_labelled_with_share_of_peak_and_the_peak_line():
    fig = charts.roofline_figure(ROOF)
    bars, peak = _trace(fig, "achieved"), _trace(fig, "measured peak")
    assert list(bars.x) == ["batch 1 · 1 thr · all", "batch 8 · 2 thr · all"]
    assert list(bars.y) == [10.0, 30.0] and list(bars.text) == ["20.0% of peak", "37.5% of peak"]
    assert list(peak.x) == list(bars.x) and list(peak.y) == [50.0, 80.0]  # each cell's own peak
    assert fig.layout.yaxis.type != "log" and not fig.layout.shapes


def test_roofline_figure_switches_to_a_log_axis_far_below_the_peak_and_reads_variant_labels():
    rows = [{"label": "#1 root", "achieved_gflops": 0.01, "peak_gflops": 98.0, "percent_of_peak": 0.0102},
            {"label": "#2 tf2onnx", "achieved_gflops": 0.02, "peak_gflops": None, "percent_of_peak": None}]
    fig = charts.roofline_figure(rows)
    assert list(_trace(fig, "achieved").x) == ["#1 root", "#2 tf2onnx"]
    assert list(_trace(fig, "achieved").text) == ["0.01% of peak", "peak unknown"]  # not "0.0%"
    assert fig.layout.yaxis.type == "log"
    # one plain label per decade, from a decade under the lowest bar to the peak: no bare "2" and "5" between
    assert list(fig.layout.yaxis.ticktext) == ["0.001", "0.01", "0.1", "1", "10", "100"]
    assert list(fig.layout.yaxis.tickvals) == pytest.approx([0.001, 0.01, 0.1, 1, 10, 100])
    low, high = fig.layout.yaxis.range
    assert low == -3 and 98 * 1.5 < 10 ** high < 1000  # room over the peak line for its label
    assert [t.name for t in fig.data] == ["achieved"]  # one peak for all: a line across, not a trace
    assert [(s.y0, s.y1) for s in fig.layout.shapes] == [(98.0, 98.0)]
    assert fig.layout.annotations[0].text == "measured peak 98 GFLOP/s"
    no_peak = charts.roofline_figure([dict(r, peak_gflops=None) for r in rows])
    assert [t.name for t in no_peak.data] == ["achieved"] and not no_peak.layout.shapes


def test_variant_roofline_takes_the_cell_of_each_variants_first_configuration():
    benchmarks = {
        1: {"results": [{"batch": 8, "threads": 2, "opt_level": "all"}], "roofline": ROOF[:2]},
        3: {"results": [{"batch": 4, "threads": 1}], "roofline": [dict(ROOF[0], achieved_gflops=5.0)]},
        4: {"results": [{"batch": 1, "threads": 1}], "roofline": []},  # no FLOPs, no roofline
    }
    rows = charts.variant_roofline(FAMILY, benchmarks)
    assert [(r["label"], r["achieved_gflops"]) for r in rows] == [("#1 root", 30.0), ("#3 ort-quantize-dynamic", 5.0)]


def _cell(batch, threads, opt, p50):
    return {"batch": batch, "threads": threads, "opt_level": opt, "execution_mode": "sequential",
            "latency_ms": {"p50": p50}}


def test_grid_figure_draws_one_p50_heatmap_per_opt_level_on_one_scale():
    results = [_cell(b, t, opt, p) for opt, base in (("all", 1.0), ("disable", 2.0))
               for (b, t, p) in ((1, 1, base), (8, 1, base * 4), (1, 2, base * 0.6))]
    fig = charts.grid_figure(results)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert [t.name for t in fig.data] == ["opt all", "opt disable"]
    first = fig.data[0]
    assert list(first.x) == ["1", "8"] and list(first.y) == ["1", "2"]
    assert [list(row) for row in first.z] == [[1.0, 4.0], [0.6, None]]  # rows are threads, columns batches
    assert [list(row) for row in first.text] == [["1 ms", "4 ms"], ["0.6 ms", ""]]
    assert {(t.zmin, t.zmax) for t in fig.data} == {(0.6, 8.0)}
    assert [t.showscale for t in fig.data] == [False, True]
    assert [a.text for a in fig.layout.annotations] == ["opt all", "opt disable"]


def test_grid_figure_has_one_panel_for_other_runtimes():
    fig = charts.grid_figure([_cell(1, 1, None, 3.0), _cell(4, 1, None, 9.0)])
    assert len(fig.data) == 1 and [list(r) for r in fig.data[0].z] == [[3.0, 9.0]]


def test_benchmark_rows_show_the_medians_ci_runs_and_why_timing_stopped():
    results = [{"batch": 1, "threads": 1, "latency_ms": {"p50": 1.0, "ci95_p50": [0.98765, 1.0234]},
                "throughput_per_s": 990.0, "peak_rss_mb": 150.5, "runs": 200, "stopped_by": "ci"},
               {"batch": 8, "threads": 1, "latency_ms": {"p50": 2.0}, "stopped_by": "budget"}]
    rows = tables.benchmark_rows(results)
    assert [r["p50 95% CI (ms)"] for r in rows] == ["0.9877 – 1.023", "—"]
    assert [r["stopped by"] for r in rows] == ["CI tight enough", "time budget"]
    assert (rows[0]["throughput /s"], rows[0]["peak RSS MB"], rows[0]["runs"]) == (990.0, 150.5, 200)


def test_explanations_put_the_verdict_first_and_each_cause_as_a_bullet():
    slower = ["The child is 2.10× slower than its parent at batch 1, 1 thread (p50 2 ms vs 1 ms); the ratio's "
              "95% CI is 1.9–2.3, so the loss is beyond the noise.", "No VNNI here.", "Quantize ops take 40%."]
    assert tables.explanation_markdown(slower) == slower[0] + "\n\n- No VNNI here.\n- Quantize ops take 40%."
    noise = ["The child is 1.04× slower than its parent at batch 1, 1 thread (p50 0.007 ms vs 0.007 ms); "
             "the ratio's 95% CI is 0.69–1.12, so the loss is within the noise."]
    assert tables.explanation_markdown(noise) == noise[0]
    assert tables.explanation_markdown([]) == ""


def test_champion_text_quotes_the_note_and_the_utc_date():
    from datetime import datetime

    when = datetime(2026, 11, 26, 9, 14, 30)
    assert tables.champion_text("#3 net · onnx", " 2× faster ", when) == \
        "Champion: #3 net · onnx — “2× faster” (chosen 2026-11-26 09:14 UTC)"
    assert tables.champion_text("#3 net · onnx", "", when).startswith("Champion: #3 net · onnx — no note (chosen")


def test_concurrency_rows_list_both_load_test_setups():
    load = {"clients": 2, "batch": 1, "shared_session": None,
            "session_per_client": {"intra_op_threads": 1, "runs": 400, "latency_ms": {"p50": 0.5, "p99": 0.9},
                                   "throughput_per_s": 3900.0}}
    assert tables.concurrency_rows(load) == [{"setup": "a session per client", "intra-op threads": 1, "calls": 400,
                                              "p50 ms": 0.5, "p99 ms": 0.9, "throughput /s": 3900.0}]
    assert tables.concurrency_rows(None) == []


def test_roofline_never_shows_more_than_the_peak_without_saying_why():
    rows = [{"label": "#1 root", "achieved_gflops": 120.0, "peak_gflops": 100.0, "percent_of_peak": 120.0},
            {"label": "#2 int8", "achieved_gflops": 122.0, "peak_gflops": 100.0, "percent_of_peak": 122.0,
             "integer_work": True}]
    texts = list(_trace(charts.roofline_figure(rows), "achieved").text)
    assert texts == ["above a stale peak (120.0% of a figure measured too low)", "122.0% of FP32 peak (integer work)"]


def test_sizes_in_one_column_share_one_unit():
    assert tables.sizes_in([2 * 1024 * 1024, 300 * 1024, None]) == ["2.0 MiB", "0.3 MiB", "—"]
    assert tables.sizes_in([100, 900]) == ["100 B", "900 B"]


def test_provenance_warnings_name_mixed_hardware_runtimes_and_noise():
    rows = [{"id": 1, "hardware_id": 1, "ratio_basis": "like with like", "noise": []},
            {"id": 2, "hardware_id": 2, "ratio_basis": "different hardware", "noise": []},
            {"id": 3, "hardware_id": 1, "ratio_basis": "different runtime",
             "noise": ["other processes used 40% of the CPU while b1 was timed"]}]
    lines = tables.provenance_warnings(rows)
    assert lines[0].startswith("These latencies were measured on 2 different machines")
    assert lines[1] == ("1 latency ratio(s) divide by the root's figure on another runtime (#3): read them as "
                        "“different runtime”, not as a speed-up.")
    assert lines[2].startswith("1 variant(s) were timed while other processes used the CPU (#3)")
    settings = tables.provenance_warnings([{"id": 4, "ratio_basis": "different settings", "noise": []}])
    assert settings == ["1 latency ratio(s) divide by the root's figure on other settings (#4): read them as "
                        "“different settings”, not as a speed-up."]  # it read “on a settings”
    mixed = tables.provenance_warnings([{"id": 5, "latency_p50_ms": 0.48, "setting": {"runtime": "server-http"}},
                                        {"id": 6, "latency_p50_ms": 0.02, "setting": {"runtime": "onnxruntime"}}])
    assert mixed == ["The latency of #5 is a load test's, through the HTTP server (the round trip included); the "
                     "others were timed in-process. Benchmark it on the Models page to compare like with like."]
    alone = [{"id": 5, "latency_p50_ms": 0.48, "setting": {"runtime": "server-http"}}, {"id": 6}]
    assert tables.provenance_warnings(alone) == []  # nothing in-process to mistake it for


def test_tradeoff_scatter_draws_no_colour_scale_over_one_accuracy():
    fig = variant_charts.tradeoff_scatter([dict(r, accuracy=0.0469) for r in ROWS[:2]])
    points = _trace(fig, "variants")
    assert not points.marker.showscale and list(points.marker.color) == [charts.FORMAT_COLOURS["keras"],
                                                                         charts.FORMAT_COLOURS["onnx"]]


def _crowd():
    """A root and eleven children like the demo's after a search: sizes 27-290 KiB, p50 0.009-0.7 ms, most of
    the children within a few KiB and a few hundredths of a millisecond of each other."""
    rows = [{"id": 1, "name": "net", "format": "keras", "pass": None, "size_bytes": 294_000, "latency_p50_ms": 0.67,
             "accuracy": None, "pareto": False}]
    for i, (kib, p50, front) in enumerate(((81, 0.027, False), (81, 0.018, False), (29, 0.023, False),
                                          (27, 0.017, True), (36, 0.041, False), (29, 0.024, False),
                                          (81, 0.009, True), (29, 0.039, False), (29, 0.023, False),
                                          (30, 0.058, False), (29, 0.022, True)), start=2):
        rows.append({"id": i, "name": "net", "format": "onnx", "pass": "ort-quantize-static", "size_bytes": kib * 1024,
                     "latency_p50_ms": p50, "accuracy": 0.9778 + (i % 2) * 0.0022, "pareto": front})
    return rows


def test_tradeoff_scatter_labels_only_the_front_champion_and_root_in_alternating_corners():
    rows = _crowd()
    fig = variant_charts.tradeoff_scatter(rows, champion_id=8, labelled={r["id"] for r in rows})
    points = _trace(fig, "variants")
    named = {i: t for i, t in zip(points.customdata, points.text) if t}
    # every chosen variant would be twelve labels on top of each other; the front (#5, #8, #12), the champion
    # (#8) and the root are named, every point on hover
    assert sorted(named) == [1, 5, 8, 12] and named[1] == "#1 root"
    assert all(h.startswith(f"#{i} ") for i, h in zip(points.customdata, points.hovertext))
    corners = {i: c for i, c in zip(points.customdata, points.textposition) if i in named}
    # by latency: #8 (0.009), #5 (0.017), #12 (0.022), #1 (0.67): neighbours never share a corner
    assert [corners[i] for i in (8, 5, 12, 1)] == list(variant_charts.LABEL_CORNERS)
    assert points.cliponaxis is False  # a label next to the axis is not cut


def test_tradeoff_scatter_names_a_handful_of_picked_variants():
    rows = _crowd()
    points = _trace(variant_charts.tradeoff_scatter(rows, labelled={3, 4}), "variants")
    assert sorted(i for i, t in zip(points.customdata, points.text) if t) == [1, 3, 4, 5, 8, 12]


def test_tradeoff_scatter_spreads_a_wide_range_on_log_axes_with_plain_tick_labels():
    fig = variant_charts.tradeoff_scatter(_crowd())
    x, y = fig.layout.xaxis, fig.layout.yaxis
    assert x.type == "log" and y.type == "log"
    assert 10 ** x.range[0] < 27 and 10 ** x.range[1] > 294_000 / 1024
    assert 10 ** y.range[0] < 0.009 and 10 ** y.range[1] > 0.67
    # fewer than three decades: 1, 2 and 5 of each, written out (a bare "2" under "0.1" would read as 2 ms)
    assert list(x.ticktext) == ["20", "50", "100", "200", "500"]
    assert list(y.ticktext) == ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]
    assert list(y.tickvals) == pytest.approx([0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1])
    # accuracy spans 0.22 points: the colour bar needs two decimals to tell its ticks apart
    assert _trace(fig, "variants").marker.colorbar.tickformat == ".2%"
    narrow = variant_charts.tradeoff_scatter(ROWS)  # 12-39 KiB and 0.5-2 ms: linear, from zero
    assert narrow.layout.xaxis.type != "log" and narrow.layout.yaxis.type != "log"
    assert narrow.layout.xaxis.range[0] == 0


def test_accuracy_provenance_leaves_out_a_sample_count_nobody_recorded():
    from engine.provenance import accuracy_text

    held = {"id": 1, "name": "held-out", "role": "evaluation"}
    rows = [{"id": 2, "accuracy_provenance": accuracy_text({"n_samples": None}, held, "2026-12-02T08:25:00Z")},
            {"id": 3, "accuracy_provenance": accuracy_text({"n_samples": 450}, held, "2026-12-02T08:25:00Z")}]
    assert tables.provenance_lines(rows) == ["Accuracy of #2: on held-out (#1, evaluation) · 2026-12-02",
                                             "Accuracy of #3: on held-out (#1, evaluation) · 450 samples · 2026-12-02"]


def test_job_outcomes_say_what_the_job_found():
    bench = {"id": 7, "kind": "benchmark", "status": "succeeded",
             "result": {"model_id": 14, "runtime": "onnxruntime", "results": [
                 {"batch": 1, "threads": 2, "latency_ms": {"p50": 30.811917}}, {"batch": 8, "threads": 2}]}}
    assert tables.job_outcome(bench) == ("Job #7 (benchmark) succeeded: model #14, p50 30.8 ms at batch 1, "
                                         "2 thread(s) (onnxruntime; 1 more configuration).")
    evaluation = {"id": 8, "kind": "evaluate", "status": "succeeded",
                  "result": {"dataset_id": 1, "n_samples": 450, "metrics": {"accuracy": 0.97777}}}
    assert tables.job_outcome(evaluation) == "Job #8 (evaluate) succeeded: accuracy 97.78% on data set #1 (450 samples)."
    demo = {"id": 1, "kind": "demo", "status": "succeeded",
            "result": {"model_id": 1, "dataset_id": 1, "train_dataset_id": 2}}
    assert tables.job_outcome(demo) == ("Job #1 (demo) succeeded: demo model #1 and data set #1 are ready (the "
                                        "held-out test split; its training/calibration split is #2).")

