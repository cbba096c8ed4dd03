"""The Models page's detail panel for one model: overview, operators, measurements, graph."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import charts, guard, measure_panel, netron_view, tables, ui
from engine import api


TABS = ["Overview", "Operators", "Measurements", "Graph"]


def render(doc: dict[str, Any]) -> None:
    """``doc`` is ``api.show_model(id)``."""
    star = " ★" if doc.get("champion") else ""
    st.subheader(f"#{doc['id']} {doc['name']}{star}")
    origin = f"derived from #{doc['parent_id']} by **{doc['pass']}**" if doc.get("parent_id") else "uploaded"
    st.caption(f"{doc['format']} · {origin} · created {doc.get('created_at') or '—'} · sha256 {doc['sha256'][:16]}…")
    derived = bool(doc.get("parent_id"))  # an upload has no parent to agree with: no fidelity line for it
    cols = st.columns(5 if derived else 4)
    cols[0].metric("Format", doc["format"])
    cols[1].metric("Parameters", tables.human_count(doc.get("params")))
    info = doc.get("info") or {}
    cols[2].metric("FLOPs / sample", tables.flops_text(doc), help=info.get("flops_note") or (
        "The model takes any size here; FLOPs are counted at the size the benchmark form offers by default."
        if info.get("flops_at") else None))
    cols[3].metric("Size", tables.human_bytes(doc.get("size_bytes")))
    if derived:
        fid = (doc.get("metrics") or {}).get("fidelity")
        agreement = fid.get("top1_agreement", fid.get("agreement")) if isinstance(fid, dict) else None
        cols[4].metric("Top-1 agreement with parent",
                       f"{agreement:.2%}" if isinstance(agreement, (int, float)) else "—")
    # the open tab is in the URL (?tab=Graph); closed tabs are not drawn (the graph copies a model file)
    overview, ops, measured, graph = st.tabs(TABS, key="tab", bind="query-params")
    if overview.open is not False:
        with overview:
            _overview(doc)
    if ops.open is not False:
        with ops:
            _operators(doc.get("info") or {})
    if measured.open is not False:
        with measured:
            measure_panel.render(doc.get("measurements") or [], doc.get("hardware") or {})
            measure_panel.history(doc["id"], doc.get("measurement_count") or 0)
    if graph.open is not False:
        with graph:
            _graph(doc)


def _overview(doc: dict[str, Any]) -> None:
    st.markdown("**Signature**")
    st.dataframe(tables.io_table(doc), hide_index=True, placeholder="—")
    if doc.get("config"):
        st.markdown(f"**{doc.get('pass')} settings**")
        st.dataframe([{"setting": k, "value": _plain(v)} for k, v in doc["config"].items()], hide_index=True,
                     placeholder="—")
    metrics = dict(sorted(flatten(doc.get("metrics") or {}).items(), key=lambda kv: _metric_order(kv[0])))
    if metrics:
        st.markdown("**Recorded metrics**")
        st.dataframe([{"metric": k, "value": _plain(v)} for k, v in metrics.items()], hide_index=True,
                     placeholder="—")
    if doc.get("children"):
        st.caption("Children: " + ", ".join(f"#{c}" for c in doc["children"]))


def _operators(info: dict[str, Any]) -> None:
    hist = info.get("op_histogram") or {}
    if not hist:
        st.info("No operator histogram was recorded for this model.")
        return
    facts = [f"opset {info['opset']}" if info.get("opset") else None,
             f"{info['n_nodes']} nodes" if info.get("n_nodes") else None,
             "layout " + ", ".join(f"{k}: {v}" for k, v in info["layout"].items() if v) if info.get("layout") else None,
             info.get("producer")]
    st.caption(" · ".join(f for f in facts if f))
    st.plotly_chart(charts.op_histogram_figure(hist), key="op_hist")
    flops = info.get("per_op_flops") or {}
    if flops:
        total = sum(flops.values()) or 1
        st.markdown("**FLOPs by operator**")
        st.dataframe([{"op": k, "FLOPs": tables.human_count(v), "share": v / total} for k, v in flops.items()],
                     hide_index=True, column_config={"share": st.column_config.ProgressColumn(format="percent")},
                     placeholder="—")


def _graph(doc: dict[str, Any]) -> None:
    if not ui.viewer_ready():
        st.warning("The graph viewer could not be installed in app/static; the rest of the studio works.")
        return
    link = guard.graph_url(doc["id"], doc["format"])
    if link is None:
        st.info("This model cannot be shown in the graph viewer (it is a folder Netron cannot open, "
                "or larger than 200 MB).")
        return
    st.iframe(netron_view.viewer_url(link), height=640)  # a signed link built from an id, never user text
    st.caption("Graph view by Netron, served from this dashboard. Double-click a node for its attributes.")


def _metric_order(name: str) -> tuple[int, str]:
    """Fidelity first (it decides whether a variant is usable), operator counts last."""
    return (0 if name.startswith("fidelity") else 2 if name.startswith("op_counts") else 1, name)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _plain(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) if len(v) <= 20 else f"{len(v)} values"
    return str(v)
