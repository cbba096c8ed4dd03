"""Plotly figures as pure functions of plain rows, so tests can call them without a browser."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

CHAMPION_GOLD = "#d97706"
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


def lineage_figure(models: list[dict[str, Any]], champion_id: int | None = None,
                   selected_id: int | None = None) -> go.Figure:
    """A model family as a left-to-right tree: nodes are variants, edges are labelled with the pass."""
    pos = tree_positions(models)
    by_id = {m["id"]: m for m in models}
    fig = go.Figure()
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for m in models:
        parent = m.get("parent_id")
        if parent in pos:
            (x0, y0), (x1, y1) = pos[parent], pos[m["id"]]
            edge_x += [x0, x1, None]
            edge_y += [y0, y1, None]
            fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=m.get("pass") or "", showarrow=False,
                               yshift=10, font={"size": 11, "color": "#475569"})
    fig.add_trace(go.Scatter(x=edge_x, y=edge_y, mode="lines", line={"color": "#94a3b8", "width": 2},
                             hoverinfo="skip", showlegend=False, name="derivations"))
    order = [m["id"] for m in models if m["id"] in pos]
    fig.add_trace(go.Scatter(
        x=[pos[i][0] for i in order], y=[pos[i][1] for i in order], mode="markers+text", name="variants",
        text=[_node_label(by_id[i], champion_id) for i in order], textposition="bottom center",
        marker={"size": [26 if i == selected_id else 18 for i in order],
                "symbol": ["star" if i == champion_id else "circle" for i in order],
                "color": [CHAMPION_GOLD if i == champion_id else FORMAT_COLOURS.get(by_id[i]["format"], "#64748b")
                          for i in order],
                "line": {"width": [3 if i == selected_id else 1 for i in order], "color": "#0f172a"}},
        customdata=order, hovertext=[_node_hover(by_id[i]) for i in order], hoverinfo="text", showlegend=False))
    rows = max((p[1] for p in pos.values()), default=0)
    depth = max((p[0] for p in pos.values()), default=0)
    fig.update_xaxes(visible=False, range=[-0.5, depth + 0.5])
    fig.update_yaxes(visible=False, range=[rows + 0.7, -0.7])  # first row on top
    return _layout(fig, "Lineage (★ champion)", height=max(220, 110 * (rows + 1)))


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
    fig.update_yaxes(title="latency (ms)")
    return _layout(fig, "Latency per configuration")


def _cell_label(r: dict[str, Any]) -> str:
    parts = [f"batch {r.get('batch', '?')}", f"{r.get('threads', '?')} thr"]
    if r.get("opt_level"):
        parts.append(str(r["opt_level"]))
    return " · ".join(parts)


# ---------------------------------------------------------------- comparing variants
def pareto_ids(rows: list[dict[str, Any]]) -> set[int]:
    """Variants no other variant beats on latency, size and (where every row has it) accuracy at once."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None and r.get("size_bytes") is not None]
    use_acc = bool(timed) and all(r.get("accuracy") is not None for r in timed)

    def key(r: dict[str, Any]) -> tuple[float, ...]:
        k = (float(r["latency_p50_ms"]), float(r["size_bytes"]))
        return k + (-float(r["accuracy"]),) if use_acc else k

    def dominated(a: dict[str, Any]) -> bool:
        ka = key(a)
        return any(all(x <= y for x, y in zip(key(b), ka)) and key(b) != ka for b in timed if b is not a)

    return {r["id"] for r in timed if not dominated(r)}


def tradeoff_scatter(rows: list[dict[str, Any]], champion_id: int | None = None) -> go.Figure:
    """Latency p50 against size, one point per benchmarked variant; colour is accuracy where known.
    Pareto-optimal variants are outlined and joined by the front; the champion is a star."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None and r.get("size_bytes") is not None]
    front = pareto_ids(timed)
    accs = [r.get("accuracy") for r in timed]
    has_acc = any(a is not None for a in accs)
    marker: dict[str, Any] = {
        "size": [20 if r["id"] in front else 13 for r in timed],
        "symbol": ["star" if r["id"] == champion_id else "circle" for r in timed],
        "line": {"width": [3 if r["id"] in front else 1 for r in timed], "color": "#0f172a"},
    }
    if has_acc:
        marker.update(color=[a if a is not None else float("nan") for a in accs], colorscale="Viridis",
                      showscale=True, colorbar={"title": "accuracy"})
    else:
        marker["color"] = [FORMAT_COLOURS.get(r.get("format"), "#64748b") for r in timed]
    fig = go.Figure(go.Scatter(
        x=[r["size_bytes"] / 1024 for r in timed], y=[r["latency_p50_ms"] for r in timed],
        mode="markers+text", text=[f"#{r['id']} {r.get('pass') or 'root'}" for r in timed],
        textposition="middle right", marker=marker, name="variants", showlegend=False, customdata=[r["id"] for r in timed],
        hovertext=[_variant_hover(r, r["id"] in front) for r in timed], hoverinfo="text"))
    edge = sorted((r for r in timed if r["id"] in front), key=lambda r: r["size_bytes"])
    if len(edge) > 1:
        fig.add_trace(go.Scatter(x=[r["size_bytes"] / 1024 for r in edge], y=[r["latency_p50_ms"] for r in edge],
                                 mode="lines", line={"dash": "dot", "color": "#94a3b8"}, name="Pareto front",
                                 hoverinfo="skip"))
    widest = max((r["size_bytes"] / 1024 for r in timed), default=1.0)
    fig.update_xaxes(title="size (KiB)", range=[0, widest * 1.45])  # room for the labels right of points
    fig.update_yaxes(title="latency p50 (ms)", rangemode="tozero")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, "Speed against size (outlined: Pareto-optimal, ★ champion)", height=420)


def _variant_hover(r: dict[str, Any], on_front: bool) -> str:
    acc = r.get("accuracy")
    lines = [f"#{r['id']} {r.get('name', '')}", f"{r.get('format')} · {r.get('pass') or 'root'}",
             f"p50 {r['latency_p50_ms']:.3f} ms", f"size {r['size_bytes'] / 1024:.1f} KiB"]
    if acc is not None:
        lines.append(f"accuracy {acc:.2%}")
    if on_front:
        lines.append("Pareto-optimal")
    return "<br>".join(lines)


def latency_bars(rows: list[dict[str, Any]], champion_id: int | None = None) -> go.Figure:
    """p50 latency per variant, with an error bar up to p99."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None]
    p50 = [r["latency_p50_ms"] for r in timed]
    upper = [max(0.0, (r.get("latency_p99_ms") or p) - p) for r, p in zip(timed, p50)]
    fig = go.Figure(go.Bar(
        x=[f"#{r['id']} {r.get('pass') or 'root'}" for r in timed], y=p50, name="p50",
        error_y={"type": "data", "symmetric": False, "array": upper, "arrayminus": [0] * len(timed)},
        marker_color=[CHAMPION_GOLD if r["id"] == champion_id else FORMAT_COLOURS.get(r.get("format"), "#64748b")
                      for r in timed]))
    fig.update_yaxes(title="latency p50 (ms), bar to p99")
    return _layout(fig, "Latency per variant")
