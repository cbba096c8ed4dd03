"""Chart and table builders are pure: plain rows in, figures and rows out."""
from __future__ import annotations

from app import charts, tables

ROWS = [  # as api.compare returns them
    {"id": 1, "name": "net", "format": "keras", "pass": None, "size_bytes": 40_000, "latency_p50_ms": 2.0,
     "latency_p99_ms": 2.5, "accuracy": 0.95, "agreement": None,
     "delta": {"latency_p50_ms": 1.0, "size_bytes": 1.0, "accuracy": 1.0}},
    {"id": 2, "name": "net", "format": "onnx", "pass": "tf2onnx", "size_bytes": 38_000, "latency_p50_ms": 0.5,
     "latency_p99_ms": 0.7, "accuracy": 0.95, "agreement": 1.0,
     "delta": {"latency_p50_ms": 0.25, "size_bytes": 0.95, "accuracy": 1.0}},
    {"id": 3, "name": "net", "format": "onnx", "pass": "ort-quantize-dynamic", "size_bytes": 12_000,
     "latency_p50_ms": 0.9, "latency_p99_ms": None, "accuracy": 0.94, "agreement": 0.98,
     "delta": {"latency_p50_ms": 0.45, "size_bytes": 0.3, "accuracy": 0.99}},
    {"id": 4, "name": "net", "format": "tflite", "pass": "tflite", "size_bytes": 39_000, "latency_p50_ms": None,
     "latency_p99_ms": None, "accuracy": None, "agreement": None, "delta": {}},
]
FAMILY = [
    {"id": 1, "name": "net", "format": "keras", "parent_id": None, "pass": None, "size_bytes": 40_000},
    {"id": 2, "name": "net", "format": "onnx", "parent_id": 1, "pass": "tf2onnx", "size_bytes": 38_000},
    {"id": 3, "name": "net", "format": "onnx", "parent_id": 2, "pass": "ort-quantize-dynamic", "size_bytes": 12_000},
    {"id": 4, "name": "net", "format": "tflite", "parent_id": 1, "pass": "tflite", "size_bytes": 39_000},
]


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_pareto_ids_keeps_only_undominated_variants():
    # 1 is slower and bigger than 2 at equal accuracy; 3 is smallest; 4 was never timed
    assert charts.pareto_ids(ROWS) == {2, 3}


def test_pareto_ids_ignores_accuracy_unless_every_timed_row_has_it():
    rows = [dict(r, accuracy=None) if r["id"] == 2 else r for r in ROWS]
    assert charts.pareto_ids(rows) == {2, 3}
    assert charts.pareto_ids([]) == set()


def test_tradeoff_scatter_has_one_point_per_timed_variant_and_marks_the_front():
    fig = charts.tradeoff_scatter(ROWS, champion_id=3)
    points = _trace(fig, "variants")
    assert list(points.customdata) == [1, 2, 3]
    assert list(points.x) == [40_000 / 1024, 38_000 / 1024, 12_000 / 1024]
    assert list(points.y) == [2.0, 0.5, 0.9]
    assert list(points.marker.symbol) == ["circle", "circle", "star"]
    assert list(points.marker.line.width) == [1, 3, 3]
    assert list(points.marker.color) == [0.95, 0.95, 0.94]  # accuracy as colour
    assert len(_trace(fig, "Pareto front").x) == 2


def test_tradeoff_scatter_colours_by_format_without_accuracy():
    fig = charts.tradeoff_scatter([dict(r, accuracy=None) for r in ROWS[:2]])
    assert list(_trace(fig, "variants").marker.color) == [charts.FORMAT_COLOURS["keras"], charts.FORMAT_COLOURS["onnx"]]


def test_latency_bars_has_one_bar_per_timed_variant_with_p99_error():
    fig = charts.latency_bars(ROWS, champion_id=2)
    bars = fig.data[0]
    assert list(bars.x) == ["#1 root", "#2 tf2onnx", "#3 ort-quantize-dynamic"]
    assert list(bars.y) == [2.0, 0.5, 0.9]
    assert [round(v, 6) for v in bars.error_y.array] == [0.5, 0.2, 0.0]
    assert bars.marker.color[1] == charts.CHAMPION_GOLD


def test_lineage_figure_places_children_right_of_parents_with_pass_labels():
    fig = charts.lineage_figure(FAMILY, champion_id=3, selected_id=2)
    nodes = _trace(fig, "variants")
    assert list(nodes.customdata) == [1, 2, 3, 4]
    assert list(nodes.x) == [0.0, 1.0, 2.0, 1.0]
    assert nodes.marker.symbol[2] == "star" and nodes.marker.size[1] == 26
    assert sorted(a.text for a in fig.layout.annotations) == ["ort-quantize-dynamic", "tf2onnx", "tflite"]
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
