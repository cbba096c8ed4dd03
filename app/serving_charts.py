"""Deploy page figures as pure functions of metric readings and load-test results."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from app.charts import _layout


def _times(history: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromtimestamp(r["at"]) for r in history]


def latency_figure(history: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure()
    for q in ("p50", "p90", "p99"):
        fig.add_trace(go.Scatter(x=_times(history), y=[r["latency_ms"][q] for r in history], name=q, mode="lines"))
    fig.update_yaxes(title="ms (since start)")
    return _layout(fig, "Latency percentiles", 280)


def throughput_figure(history: list[dict[str, Any]], rates: list[float | None]) -> go.Figure:
    """Requests per second between readings, from zero up (a quiet server drew its zeros on an axis from -1 to 1)."""
    fig = go.Figure(go.Scatter(x=_times(history), y=rates, mode="lines", name="req/s"))
    top = max((r for r in rates if r is not None), default=0)
    fig.update_yaxes(title="requests / s", rangemode="tozero", **({} if top > 0 else {"range": [0, 1]}))
    return _layout(fig, "Throughput", 280)


def batch_figure(reading: dict[str, Any]) -> go.Figure:
    hist = reading["batch_hist"]
    fig = go.Figure(go.Bar(x=[f"≤{k}" for k in hist], y=list(hist.values())))
    fig.update_xaxes(title="rows per executed batch")
    return _layout(fig, "Batch sizes", 280)


def resources_figure(history: list[dict[str, Any]]) -> go.Figure:
    """CPU % and resident memory over time, both axes from zero in whole numbers (a memory axis fitted to a
    steady RSS labelled its ticks 165.83193, 165.83321, …). The legend sits in a row above the plot: at its
    default place, right of the plot, it covered the memory axis's labels (138 read as 1)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_times(history), y=[r["cpu_percent"] for r in history], name="CPU %"))
    fig.add_trace(go.Scatter(x=_times(history), y=[r["rss_mb"] for r in history], name="RSS MB", yaxis="y2"))
    top = max((r["rss_mb"] or 0 for r in history), default=0) or 1
    # CPU ticks keep their decimals: an idle server's 0.5-steps in whole numbers read 0, 1, 1, 2
    fig.update_layout(yaxis={"title": "CPU % (100 = one core)", "rangemode": "tozero", "tickformat": ",~g"},
                      yaxis2={"title": "MB", "overlaying": "y", "side": "right", "range": [0, top * 1.2],
                              "tickformat": ",.0f"},
                      legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"})
    return _layout(fig, "Server CPU and memory", 280)


def cache_figure(history: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure(go.Scatter(x=_times(history), y=[r["hit_rate"] for r in history], mode="lines", name="hit rate"))
    fig.update_yaxes(title="hit rate", range=[0, 1])
    return _layout(fig, "Response cache hit rate", 280)


def curve_figure(result: dict[str, Any]) -> go.Figure:
    """The load test's latency-throughput curve: one point per concurrency level, p50 and p99."""
    rows = [r for r in result["results"] if r["latency_ms"]]
    fig = go.Figure()
    for q in ("p50", "p99"):
        fig.add_trace(go.Scatter(x=[r["throughput_per_s"] for r in rows], y=[r["latency_ms"][q] for r in rows],
                                 mode="lines+markers+text", name=q,
                                 text=[f"{r['concurrency']}" for r in rows], textposition="top center"))
    budget = result["config"]["p99_budget_ms"]
    fig.add_hline(y=budget, line_dash="dot", annotation_text=f"p99 budget {budget:g} ms")
    fig.update_xaxes(title="throughput (requests / s)")
    fig.update_yaxes(title="latency at the client (ms, HTTP round trip)")  # Live's p99 is inside the server
    return _layout(fig, "Latency against throughput (labels: concurrent clients)", 380)
