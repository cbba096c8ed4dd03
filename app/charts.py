"""Plotly figures as pure functions of plain rows, so tests can call them without a browser."""
from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

CHAMPION_GOLD = "#d97706"
LOG_SPREAD = 10  # an axis whose values span more than this factor is drawn on a log scale
FORMAT_COLOURS = {"keras": "#2563eb", "savedmodel": "#7c3aed", "onnx": "#0f766e", "tflite": "#db2777"}


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(title=title, height=height, margin={"l": 40, "r": 20, "t": 50, "b": 40},
                      template="plotly_white")
    return fig


# ---------------------------------------------------------------- lineage
def tree_positions(models: list[dict[str, Any]]) -> dict[int, tuple[float, float]]:
    """(depth, row) for every model: roots on the left, each child one column right, leaves in order."""
    ids = {m["id"] for m in models}
    kids: dict[int | None, list[int]] = {}
    for m in sorted(models, key=lambda m: m["id"]):
        parent = m.get("parent_id") if m.get("parent_id") in ids else None
        kids.setdefault(parent, []).append(m["id"])
    pos: dict[int, tuple[float, float]] = {}
    next_row = [0.0]

    def place(node: int, depth: int) -> float:
        children = kids.get(node, [])
        rows = [place(c, depth + 1) for c in children]
        row = sum(rows) / len(rows) if rows else next_row[0]
        if not rows:
            next_row[0] += 1
        pos[node] = (float(depth), row)
        return row

    for root in kids.get(None, []):
        place(root, 0)
    return pos


def lineage_focus(models: list[dict[str, Any]], selected_id: int | None, hits: set[int] | None = None,
                  max_children: int = 20, max_siblings: int = 10) -> tuple[list[dict[str, Any]], str]:
    """The part of a large family worth drawing: the selected variant's ancestors, some of its siblings and
    children, and every search hit with its ancestors. Returns the models and a sentence on what was left out."""
    by_id = {m["id"]: m for m in models}
    kids: dict[int | None, list[int]] = {}
    for m in models:
        kids.setdefault(m.get("parent_id"), []).append(m["id"])

    def chain(i: int | None) -> list[int]:
        out = []
        while i in by_id and i not in out:
            out.append(i)
            i = by_id[i].get("parent_id")
        return out

    keep = set(chain(selected_id))
    parent = by_id.get(selected_id, {}).get("parent_id")
    siblings = [i for i in kids.get(parent, []) if i != selected_id] if parent is not None else []
    children = kids.get(selected_id, [])
    keep |= set(siblings[:max_siblings]) | set(children[:max_children])
    for hit in sorted(hits or set())[:40]:
        keep |= set(chain(hit))
    left_out = []
    if len(children) > max_children:
        left_out.append(f"{len(children) - max_children} more children of #{selected_id}")
    if len(siblings) > max_siblings:
        left_out.append(f"{len(siblings) - max_siblings} more siblings")
    shown = [m for m in models if m["id"] in keep]
    note = f"Showing {len(shown)} of {len(models)} variants around #{selected_id}"
    return shown, note + (f" ({', '.join(left_out)})." if left_out else ".")


def lineage_figure(models: list[dict[str, Any]], champion_id: int | None = None,
                   selected_id: int | None = None, hits: set[int] | None = None) -> go.Figure:
    """A model family as a left-to-right tree: nodes are variants, edges are labelled with the pass. Search
    ``hits`` are ringed; past 60 nodes the labels move into the hover text so the tree stays readable."""
    pos = tree_positions(models)
    by_id = {m["id"]: m for m in models}
    fig = go.Figure()
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    mid_x, mid_y, mid_text = [], [], []
    for m in models:
        parent = m.get("parent_id")
        if parent in pos:
            (x0, y0), (x1, y1) = pos[parent], pos[m["id"]]
            edge_x += [x0, x1, None]
            edge_y += [y0, y1, None]
            mid_x.append((x0 + x1) / 2)
            mid_y.append((y0 + y1) / 2)
            mid_text.append(m.get("pass") or "")
    dense = len(pos) > 60
    fig.add_trace(go.Scatter(x=edge_x, y=edge_y, mode="lines", line={"color": "#94a3b8", "width": 1 if dense else 2},
                             hoverinfo="skip", showlegend=False, name="derivations"))
    if not dense:  # one text trace, not one annotation per edge: a thousand annotations take seconds to build
        fig.add_trace(go.Scatter(x=mid_x, y=mid_y, mode="text", text=mid_text, textposition="top center",
                                 textfont={"size": 11, "color": "#475569"}, hoverinfo="skip", showlegend=False,
                                 name="passes"))
    hits = hits or set()
    order = [m["id"] for m in models if m["id"] in pos]
    fig.add_trace(go.Scatter(
        x=[pos[i][0] for i in order], y=[pos[i][1] for i in order], mode="markers" if dense else "markers+text",
        name="variants", text=[_node_label(by_id[i], champion_id) for i in order], textposition="bottom center",
        marker={"size": [26 if i == selected_id else (10 if dense else 18) for i in order],
                "symbol": ["star" if i == champion_id else "circle" for i in order],
                "color": [CHAMPION_GOLD if i == champion_id else FORMAT_COLOURS.get(by_id[i]["format"], "#64748b")
                          for i in order],
                "line": {"width": [3 if i == selected_id or i in hits else 1 for i in order],
                         "color": ["#dc2626" if i in hits else "#0f172a" for i in order]}},
        customdata=order, hovertext=[_node_hover(by_id[i]) for i in order], hoverinfo="text", showlegend=False))
    rows = max((p[1] for p in pos.values()), default=0)
    depth = max((p[0] for p in pos.values()), default=0)
    fig.update_xaxes(visible=False, range=[-0.5, depth + 0.5])
    fig.update_yaxes(visible=False, range=[rows + 0.7, -0.7])  # first row on top
    height = max(220, min(1400, (14 if dense else 110) * (rows + 1)))
    return _layout(fig, "Lineage (★ champion)", height=height)


def _node_label(m: dict[str, Any], champion_id: int | None) -> str:
    star = "★ " if m["id"] == champion_id else ""
    return f"{star}#{m['id']} {m['format']}"


def _node_hover(m: dict[str, Any]) -> str:
    size = m.get("size_bytes")
    return (f"#{m['id']} {m.get('name', '')}<br>{m['format']} · {m.get('pass') or 'upload'}"
            + (f"<br>{size / 1024:.1f} KiB" if size else ""))


# ---------------------------------------------------------------- one model
def op_histogram_figure(histogram: dict[str, int], top: int = 25) -> go.Figure:
    """Operator counts, most frequent on top."""
    items = sorted(histogram.items(), key=lambda kv: (kv[1], kv[0]))[-top:]
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker_color="#0f766e", name="ops"))
    fig.update_xaxes(title="count")
    return _layout(fig, "Operators", height=max(240, 22 * len(items) + 90))


def benchmark_figure(results: list[dict[str, Any]]) -> go.Figure:
    """p50 latency per benchmark cell, with p90 and p99 as ticks above it."""
    labels = [_cell_label(r) for r in results]
    lat = [r.get("latency_ms") or {} for r in results]
    fig = go.Figure(go.Bar(x=labels, y=[d.get("p50") for d in lat], name="p50", marker_color="#0f766e"))
    for q, symbol in (("p90", "line-ew"), ("p99", "line-ew-open")):
        fig.add_trace(go.Scatter(x=labels, y=[d.get(q) for d in lat], mode="markers", name=q,
                                 marker={"symbol": symbol, "size": 18, "line": {"width": 2, "color": "#334155"}}))
    # a loaded machine's p99 can be a hundred times a small model's p50: a log axis keeps the p50 bars readable
    fig.update_yaxes(title="latency (ms)", **(log_ticks([v for d in lat for v in (d.get("p50"), d.get("p99"))],
                                                        bars=True) or {}))
    return _layout(fig, "Latency per configuration")


def _cell_label(r: dict[str, Any]) -> str:
    parts = [f"batch {r.get('batch', '?')}", f"{r.get('threads', '?')} thr"]
    if r.get("opt_level"):
        parts.append(str(r["opt_level"]))
    return " · ".join(parts)


# ---------------------------------------------------------------- inside one benchmark
PEAK_RED = "#dc2626"
CLASS_COLOURS = {"quantized": "#059669", "qdq": "#d97706", "float": "#2563eb"}
CLASS_NAMES = {"quantized": "quantized kernels", "qdq": "(de)quantize", "float": "float kernels"}


def profile_figure(profile: dict[str, Any], top: int = 20) -> go.Figure:
    """Share of kernel time per op type (largest on top), one colour per class: quantized kernels,
    (de)quantize conversions, float kernels. ``profile`` is a benchmark summary's ``profile``."""
    rows = sorted(profile.get("op_types") or [], key=lambda r: -(r.get("share") or 0))[:top]
    order = [r["op_type"] for r in reversed(rows)]
    fig = go.Figure()
    for cls in CLASS_COLOURS:
        mine = [r for r in rows if r.get("class", "float") == cls]
        if not mine:
            continue
        fig.add_trace(go.Bar(
            x=[100 * (r.get("share") or 0) for r in mine], y=[r["op_type"] for r in mine], orientation="h",
            name=CLASS_NAMES[cls], marker_color=CLASS_COLOURS[cls], textposition="outside", cliponaxis=False,
            text=[f"{r.get('share') or 0:.0%} · {r.get('ms_per_run') or 0:.3f} ms" for r in mine],
            hovertext=[f"{r['op_type']}: {r.get('nodes', '?')} node(s), {r.get('ms_per_run') or 0:.4f} ms per run"
                       for r in mine], hoverinfo="text"))
    widest = max((100 * (r.get("share") or 0) for r in rows), default=100)
    fig.update_xaxes(title="share of kernel time (%)", range=[0, min(100, widest * 1.35) or 100])
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, barmode="overlay")
    return _layout(fig, "Where the time goes, per operator type", height=max(260, 26 * len(rows) + 140))


def profile_caption(profile: dict[str, Any]) -> str:
    """One line under the profile chart: quantized against float share, and what the graph left unfused."""
    parts = [f"Quantized kernels {profile.get('quantized_share') or 0:.0%}",
             f"(de)quantize {profile.get('qdq_share') or 0:.0%}", f"float {profile.get('float_share') or 0:.0%}"]
    text = " · ".join(parts)
    if profile.get("kernel_ms_per_run") is not None:
        text += (f" of {profile['kernel_ms_per_run']:.3f} ms kernel time per run "
                 f"({profile.get('runs', '?')} runs, {profile.get('threads', '?')} thread(s), "
                 f"opt level {profile.get('opt_level', '?')})")
    text += "."
    if profile.get("unfused_qdq_pairs"):
        text += f" {profile['unfused_qdq_pairs']} DequantizeLinear → op → QuantizeLinear pattern(s) left unfused."
    floats = profile.get("float_compute_ops") or {}
    if floats:
        text += " Compute ops left in float: " + ", ".join(f"{k} ×{v}" for k, v in sorted(floats.items())) + "."
    return text


def roofline_figure(rows: list[dict[str, Any]], title: str = "Achieved GFLOP/s against the measured peak") -> go.Figure:
    """Achieved GFLOP/s per benchmark cell (or per variant: rows with a ``label``) as bars labelled with their
    share of the peak, and the measured float32 peak each was judged against as a line. A log axis when the
    model is far below the peak (tiny models are), so both stay readable."""
    drawn = [r for r in rows if r.get("achieved_gflops") is not None]
    labels = [r.get("label") or _cell_label(r) for r in drawn]
    achieved = [float(r["achieved_gflops"]) for r in drawn]
    fig = go.Figure(go.Bar(
        x=labels, y=achieved, name="achieved", marker_color="#0f766e", textposition="outside", cliponaxis=False,
        text=[_peak_text(r) for r in drawn]))
    peaks = [r.get("peak_gflops") for r in drawn]
    distinct = {p for p in peaks if p is not None}
    low = min((a for a in achieved if a > 0), default=0)
    log = bool(low) and max([*distinct, *achieved]) / low > 30
    if log:
        fig.update_yaxes(type="log", **log_axis([*distinct, *achieved]))
    if len(distinct) == 1:  # one peak for every bar: a line across the whole chart
        peak = distinct.pop()
        fig.add_hline(y=peak, line={"dash": "dash", "color": PEAK_RED})
        # annotations on a log axis are placed in log10 units (shapes are not)
        fig.add_annotation(text=f"measured peak {peak:.3g} GFLOP/s", xref="paper", x=0, xanchor="left",
                           y=math.log10(peak) if log else peak, yanchor="bottom", showarrow=False,
                           font={"color": PEAK_RED, "size": 11})
    elif distinct:  # 1-thread and all-thread cells are judged against different peaks: a tick over each bar
        fig.add_trace(go.Scatter(x=labels, y=peaks, mode="markers", name="measured peak",
                                 marker={"symbol": "line-ew-open", "size": 60, "line": {"width": 3, "color": PEAK_RED}}))
    fig.update_yaxes(title="GFLOP/s")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, title)


def log_axis(values: list[float]) -> dict[str, Any]:
    """A log axis over ``values``: from a power of ten at most half the smallest (the lowest bar stands on a
    labelled decade and shows) to a little above the largest (room for the label over it), ticked at the powers
    of ten between and labelled as plain numbers. Plotly's own log ticks also label 2 and 5 within each decade
    with a bare digit, so a ``2`` under ``1`` means 0.2: over four decades, a dozen labels that read wrong."""
    positive = [v for v in values if v > 0]
    bottom, top = math.floor(math.log10(min(positive)) - 0.3), math.log10(max(positive)) + 0.25
    ticks = [10.0 ** e for e in range(bottom, math.floor(top) + 1)]
    return {"range": [bottom, top], "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def log_ticks(values: list[float], pad: float = 0.25, bars: bool = False) -> dict[str, Any] | None:
    """A log axis over ``values`` when they span more than ``LOG_SPREAD``: ``pad`` decades of room on both sides
    (for ``bars``, down to the decade under the smallest, so the lowest bar stands on a labelled tick), ticked at 1, 2 and 5 of each decade when the axis covers fewer than three decades (at the decades alone
    otherwise), every tick labelled as a plain number (``0.02``, never a bare ``2``). None: a linear axis."""
    positive = [v for v in values if v is not None and v > 0]
    if not positive or max(positive) / min(positive) <= LOG_SPREAD:
        return None
    low, high = math.log10(min(positive)) - pad, math.log10(max(positive)) + pad
    low = math.floor(low) if bars else low
    steps = (1, 2, 5) if high - low < 3 else (1,)
    ticks = [m * 10.0 ** e for e in range(math.floor(low), math.ceil(high) + 1) for m in steps]
    ticks = [t for t in ticks if low <= math.log10(t) <= high]
    return {"type": "log", "range": [low, high], "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def _peak_text(r: dict[str, Any]) -> str:
    """``0.5% of peak`` (two significant digits below 0.1%: a tiny model is not at ``0.0%``); integer work
    (judged against the float32 peak) says so. Float work above 100% was judged against a peak measured too
    low (under load): benchmarks now raise such a peak, and one recorded before says it is stale."""
    share = r.get("percent_of_peak")
    if share is None:
        return "peak unknown"
    shown = f"{share:.1f}" if share >= 0.1 else f"{share:.2g}"
    if r.get("integer_work"):
        return f"{shown}% of FP32 peak (integer work)"
    if share > 100:
        return f"above a stale peak ({shown}% of a figure measured too low)"
    return f"{shown}% of peak"


def variant_roofline(models: list[dict[str, Any]], benchmarks: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One roofline row per benchmarked variant: the cell of its latest benchmark's first configuration
    (the one Compare's table shows), labelled ``#id pass``."""
    out = []
    for m in models:
        summary = benchmarks.get(m["id"]) or {}
        cells = [c for c in summary.get("roofline") or [] if isinstance(c, dict)]
        if not cells:
            continue
        first = (summary.get("results") or [{}])[0]
        key = (first.get("batch"), first.get("threads"), first.get("opt_level"))
        cell = next((c for c in cells if (c.get("batch"), c.get("threads"), c.get("opt_level")) == key), cells[0])
        out.append({**cell, "label": f"#{m['id']} {m.get('pass') or 'root'}"})
    return out


def grid_figure(results: list[dict[str, Any]]) -> go.Figure:
    """p50 latency over batch × threads as a heatmap, one panel per opt level (and execution mode) when
    the benchmark measured several; one colour scale across panels."""
    from plotly.subplots import make_subplots

    panels: dict[str, list[dict[str, Any]]] = {}
    modes = {r.get("execution_mode") for r in results}
    for r in results:
        name = f"opt {r['opt_level']}" if r.get("opt_level") else str(r.get("runtime") or "grid")
        if len(modes) > 1 and r.get("execution_mode"):
            name += f" · {r['execution_mode']}"
        panels.setdefault(name, []).append(r)
    batches = sorted({r.get("batch") for r in results if r.get("batch") is not None})
    threads = sorted({r.get("threads") for r in results if r.get("threads") is not None})
    values = [(r.get("latency_ms") or {}).get("p50") for r in results]
    values = [v for v in values if v is not None]
    fig = make_subplots(rows=1, cols=max(1, len(panels)), subplot_titles=list(panels) if len(panels) > 1 else None,
                        shared_yaxes=True, horizontal_spacing=0.06)
    for col, (name, cells) in enumerate(panels.items(), start=1):
        at = {(r.get("threads"), r.get("batch")): (r.get("latency_ms") or {}).get("p50") for r in cells}
        z = [[at.get((t, b)) for b in batches] for t in threads]
        fig.add_trace(go.Heatmap(
            x=[str(b) for b in batches], y=[str(t) for t in threads], z=z, name=name, colorscale="YlOrRd",
            zmin=min(values, default=0), zmax=max(values, default=1), showscale=col == len(panels),
            colorbar={"title": "p50 ms"}, text=[[_ms_text(v) for v in row] for row in z], texttemplate="%{text}",
            hovertemplate="batch %{x}, %{y} thread(s): p50 %{z:.4f} ms<extra>" + name + "</extra>"), row=1, col=col)
        fig.update_xaxes(title="batch", type="category", row=1, col=col)
    fig.update_yaxes(title="threads", type="category", row=1, col=1)
    return _layout(fig, "p50 latency over batch × threads", height=max(260, 60 * len(threads) + 190))


def _ms_text(v: float | None) -> str:
    return "" if v is None else f"{v:.3g} ms"


def op_histograms_figure(histograms: dict[str, dict[str, int]], top: int = 20) -> go.Figure:
    """Operator counts of several variants as grouped bars, the op types most used overall on top."""
    totals: dict[str, int] = {}
    for hist in histograms.values():
        for op, n in hist.items():
            totals[op] = totals.get(op, 0) + n
    ops = sorted(totals, key=lambda op: (totals[op], op))[-top:]
    fig = go.Figure([go.Bar(x=[hist.get(op, 0) for op in ops], y=ops, orientation="h", name=name)
                     for name, hist in histograms.items()])
    fig.update_xaxes(title="count")
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.15})
    return _layout(fig, "Operators side by side", height=max(260, 18 * len(ops) * max(1, len(histograms)) // 2 + 120))
