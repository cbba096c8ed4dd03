"""The Models page's detail panel for one model: overview, operators, measurements, graph."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import charts, netron_view, tables, ui
from engine import api


def render(doc: dict[str, Any]) -> None:
    """``doc`` is ``api.show_model(id)``."""
    star = " ★" if doc.get("champion") else ""
    st.subheader(f"#{doc['id']} {doc['name']}{star}")
    origin = f"derived from #{doc['parent_id']} by **{doc['pass']}**" if doc.get("parent_id") else "uploaded"
    st.caption(f"{doc['format']} · {origin} · created {doc.get('created_at') or '—'} · sha256 {doc['sha256'][:16]}…")
    cols = st.columns(5)
    cols[0].metric("Format", doc["format"])
    cols[1].metric("Parameters", tables.human_count(doc.get("params")))
    cols[2].metric("FLOPs / sample", tables.human_count(doc.get("flops")))
    cols[3].metric("Size", tables.human_bytes(doc.get("size_bytes")))
    fid = (doc.get("metrics") or {}).get("fidelity")
    agreement = fid.get("top1_agreement", fid.get("agreement")) if isinstance(fid, dict) else None
    cols[4].metric("Top-1 agreement with parent",
                   f"{agreement:.2%}" if isinstance(agreement, (int, float)) else "—")
    overview, ops, measured, graph = st.tabs(["Overview", "Operators", "Measurements", "Graph"])
    with overview:
        _overview(doc)
    with ops:
        _operators(doc.get("info") or {})
    with measured:
        _measurements(doc.get("measurements") or [])
    with graph:
        _graph(doc)


def _overview(doc: dict[str, Any]) -> None:
    st.markdown("**Signature**")
    st.dataframe(tables.io_table(doc), hide_index=True)
    if doc.get("config"):
        st.markdown(f"**{doc.get('pass')} settings**")
        st.dataframe([{"setting": k, "value": _plain(v)} for k, v in doc["config"].items()], hide_index=True)
    metrics = flatten(doc.get("metrics") or {})
    if metrics:
        st.markdown("**Recorded metrics**")
        st.dataframe([{"metric": k, "value": _plain(v)} for k, v in metrics.items()], hide_index=True)
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
                     hide_index=True, column_config={"share": st.column_config.ProgressColumn(format="percent")})


def _measurements(measurements: list[dict[str, Any]]) -> None:
    if not measurements:
        st.info("Not measured yet: benchmark or evaluate it with the buttons below.")
        return
    for m in sorted(measurements, key=lambda m: m.get("created_at") or "", reverse=True):
        s = m.get("summary") or {}
        if m.get("kind") == "benchmark":
            _benchmark(m, s)
        else:
            _evaluation(m, s)


def _benchmark(m: dict[str, Any], s: dict[str, Any]) -> None:
    with st.container(border=True):
        st.markdown(f"**Benchmark** · {s.get('runtime') or m.get('runtime') or '?'} · {m.get('created_at') or ''}")
        cols = st.columns(4)
        cols[0].metric("Load time", _ms(s.get("load_time_ms")))
        cols[1].metric("First inference", _ms(s.get("cold_latency_ms")))
        cols[2].metric("File size", tables.human_bytes(s.get("size_bytes")))
        cols[3].metric("Gzipped", tables.human_bytes(s.get("gzip_bytes")))
        results = s.get("results") or []
        if results:
            st.plotly_chart(charts.benchmark_figure(results), key=f"bench_{m['id']}")
            st.dataframe(tables.benchmark_rows(results, s.get("roofline")), hide_index=True,
                         column_config={"% of peak": st.column_config.NumberColumn(format="%.1f%%")})
        compared = s.get("compared_with")
        if isinstance(compared, dict) and compared.get("model_id"):
            st.caption(f"Compared with the parent's (#{compared['model_id']}) latest benchmark on this hardware:")
        for line in s.get("explanations") or []:
            st.info(line if isinstance(line, str) else str(line))
        profile = s.get("profile") or {}
        if profile.get("op_types"):
            st.markdown("**Where the time goes (per operator type)**")
            st.dataframe([{"op": r.get("op_type"), "ms / run": r.get("ms_per_run"), "share": r.get("share"),
                           "nodes": r.get("nodes")} for r in profile["op_types"]], hide_index=True,
                         column_config={"share": st.column_config.ProgressColumn(format="percent")})


def _evaluation(m: dict[str, Any], s: dict[str, Any]) -> None:
    with st.container(border=True):
        st.markdown(f"**Evaluation** on data set #{m.get('dataset_id')} · {s.get('n_samples', '?')} samples · "
                    f"{m.get('created_at') or ''}")
        scalars = {k: v for k, v in (s.get("metrics") or {}).items() if isinstance(v, (int, float))}
        scalars |= {f"fidelity {k}": v for k, v in (s.get("fidelity") or {}).items() if isinstance(v, (int, float))}
        if not scalars:
            st.caption("No metrics were recorded.")
        for col, (name, value) in zip(st.columns(max(1, min(len(scalars), 5))), list(scalars.items())[:5]):
            col.metric(name.replace("_", " "), f"{value:.4g}")


def _graph(doc: dict[str, Any]) -> None:
    if not ui.viewer_ready():
        st.warning("The graph viewer could not be installed in app/static; the rest of the studio works.")
        return
    url = netron_view.publish(api.model_path(doc["id"]), doc["format"], doc["sha256"])
    if url is None:
        st.info("This model cannot be shown in the graph viewer (it is a folder Netron cannot open, "
                "or larger than 200 MB).")
        return
    st.iframe(url, height=640)  # the URL holds only a sha256 and a fixed suffix, never user text
    st.caption("Graph view by Netron, served from this dashboard. Double-click a node for its attributes.")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _plain(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) if len(v) <= 20 else f"{len(v)} values"
    return str(v)


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} ms"
