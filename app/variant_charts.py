"""Compare's charts of a family's variants: speed against size, and latency per variant. Pure functions of
``api.family_overview`` rows, so tests can call them without a browser."""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from app.charts import CHAMPION_GOLD, FORMAT_COLOURS, _layout, log_ticks

# Where the labels of named points go, by their rank in latency: neighbours in speed get opposite corners,
# so two variants of nearly the same size and latency do not write over each other.
LABEL_CORNERS = ("top right", "bottom left", "bottom right", "top left")
P99_COLOUR = "#334155"


def tradeoff_scatter(rows: list[dict[str, Any]], champion_id: int | None = None,
                     labelled: set[int] | None = None) -> go.Figure:
    """Latency p50 against size, one point per benchmarked variant; colour is accuracy where known and varying.
    Pareto-optimal variants are outlined and joined by the front; the champion is a star. Text labels name
    only the front, the champion, the root and, when at most four, the ``labelled`` variants (the ones a
    reviewer picked to set side by side); every point names itself on hover. Axes spanning more than ten
    times are logarithmic, so a slow root does not squash its fast children into one corner."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None and r.get("size_bytes") is not None]
    front = {r["id"] for r in timed if r.get("pareto")}
    named = front | {champion_id} | {r["id"] for r in timed if not r.get("pass")}
    if labelled and len(labelled) <= 4:
        named |= labelled
    accs = [r.get("accuracy") for r in timed]
    known = [a for a in accs if a is not None]
    # a colour scale over one value draws a bar of identical ticks: colour by accuracy only where it varies
    has_acc = bool(known) and max(known) - min(known) >= 1e-4
    # numpy arrays, not lists: plotly checks a list element by element, which costs a second at 1,000 variants
    marker: dict[str, Any] = {
        "size": np.array([20 if r["id"] in front else (13 if len(timed) <= 60 else 7) for r in timed]),
        "symbol": np.array(["star" if r["id"] == champion_id else "circle" for r in timed]),
        "line": {"width": np.array([3 if r["id"] in front else 1 for r in timed]), "color": "#0f172a"},
    }
    if has_acc:
        marker.update(color=np.array([a if a is not None else float("nan") for a in accs]), colorscale="Viridis",
                      cmin=min(known), cmax=max(known), showscale=True,
                      colorbar={"title": "accuracy", "tickformat": _percent_format(max(known) - min(known))})
    else:
        marker["color"] = np.array([FORMAT_COLOURS.get(r.get("format"), "#64748b") for r in timed])
    fig = go.Figure(go.Scatter(
        x=np.array([r["size_bytes"] / 1024 for r in timed]), y=np.array([r["latency_p50_ms"] for r in timed]),
        mode="markers+text", text=np.array([_short(r) if r["id"] in named else "" for r in timed]),
        textposition=np.array(_corners(timed, named)), cliponaxis=False, textfont={"size": 11},
        marker=marker, name="variants", showlegend=False, customdata=np.array([r["id"] for r in timed]),
        hovertext=np.array([_variant_hover(r, r["id"] in front) for r in timed]), hoverinfo="text"))
    edge = sorted((r for r in timed if r["id"] in front), key=lambda r: r["size_bytes"])
    if len(edge) > 1:
        fig.add_trace(go.Scatter(x=[r["size_bytes"] / 1024 for r in edge], y=[r["latency_p50_ms"] for r in edge],
                                 mode="lines", line={"dash": "dot", "color": "#94a3b8"}, name="Pareto front",
                                 hoverinfo="skip"))
    sizes = [r["size_bytes"] / 1024 for r in timed]
    x_log = log_ticks(sizes, pad=0.3)
    fig.update_xaxes(title="size (KiB)", **(x_log or {"range": [0, max(sizes, default=1.0) * 1.3]}))
    fig.update_yaxes(title="latency p50 (ms)", **(log_ticks([r["latency_p50_ms"] for r in timed], pad=0.3)
                                                  or {"rangemode": "tozero"}))
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, "Speed against size (outlined: Pareto-optimal, ★ champion)", height=420)


def _short(r: dict[str, Any]) -> str:
    return f"#{r['id']} {r.get('pass') or 'root'}"


def _corners(timed: list[dict[str, Any]], named: set[int]) -> list[str]:
    """Each point's label position: named points take ``LABEL_CORNERS`` in turn by their rank in latency."""
    order = sorted((r for r in timed if r["id"] in named), key=lambda r: (r["latency_p50_ms"], r["size_bytes"]))
    corner = {r["id"]: LABEL_CORNERS[i % len(LABEL_CORNERS)] for i, r in enumerate(order)}
    return [corner.get(r["id"], "top right") for r in timed]


def _percent_format(span: float) -> str:
    """Enough decimals that neighbouring colour-bar ticks differ (``.1%`` labels 97.84% and 97.88% alike)."""
    return ".1%" if span >= 0.02 else ".2%" if span >= 0.002 else ".3%"


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
    """p50 latency per variant as bars with the median's 95% CI as a whisker, and p99 as a tick of its own
    (on a loaded machine a tiny model's p99 can be a hundred times its p50: drawn as the bar's whisker it set
    the scale and flattened every p50 to nothing). Values spanning more than ten times put the axis on a log
    scale labelled with plain numbers, so each p50 bar keeps a readable height."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None]
    labels = [_short(r) for r in timed]
    p50 = [r["latency_p50_ms"] for r in timed]
    cis = [r.get("latency_ci95") or [p, p] for r, p in zip(timed, p50)]
    fig = go.Figure(go.Bar(
        x=labels, y=p50, name="p50",
        error_y={"type": "data", "symmetric": False, "array": [max(0.0, hi - p) for (_, hi), p in zip(cis, p50)],
                 "arrayminus": [max(0.0, p - lo) for (lo, _), p in zip(cis, p50)], "color": "#0f172a", "width": 3},
        marker_color=[CHAMPION_GOLD if r["id"] == champion_id else FORMAT_COLOURS.get(r.get("format"), "#64748b")
                      for r in timed],
        hovertext=[_latency_hover(r) for r in timed], hoverinfo="text", showlegend=False))
    tail = [(label, r["latency_p99_ms"]) for label, r in zip(labels, timed) if r.get("latency_p99_ms") is not None]
    if tail:
        fig.add_trace(go.Scatter(
            x=[label for label, _ in tail], y=[v for _, v in tail], mode="markers", name="p99",
            marker={"symbol": "line-ew", "size": 16, "line": {"width": 2.5, "color": P99_COLOUR}},
            hovertemplate="%{x}: p99 %{y:.3f} ms<extra></extra>"))
    axis = log_ticks([*p50, *(v for _, v in tail)], bars=True)
    fig.update_yaxes(title="latency (ms)", **(axis or {"rangemode": "tozero"}))
    fig.update_layout(legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"})
    return _layout(fig, "Latency per variant: p50 (95% CI), p99")


def _latency_hover(r: dict[str, Any]) -> str:
    ci = r.get("latency_ci95")
    lines = [_short(r) + f" · {r.get('format')}", f"p50 {r['latency_p50_ms']:.4f} ms"]
    if ci:
        lines.append(f"95% CI {ci[0]:.4f}–{ci[1]:.4f} ms")
    if r.get("latency_p99_ms") is not None:
        lines.append(f"p99 {r['latency_p99_ms']:.4f} ms")
    return "<br>".join(lines)
