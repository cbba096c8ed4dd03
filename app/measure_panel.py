"""The Models page's Measurements tab: each benchmark (explanations, grid, roofline, per-operator profile,
table, warnings) and each evaluation. The latest benchmark is open; earlier ones fold away."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import charts, tables, ui
from engine import api

HISTORY_PAGE = 20


def render(measurements: list[dict[str, Any]], hardware: dict[str, Any] | None = None) -> None:
    """The latest benchmark and the latest evaluation on each data set (``api.model_review``'s measurements);
    ``hardware`` maps hardware ids (as strings) to fingerprints, for the provenance line."""
    hardware = hardware or {}
    if not measurements:
        st.info("Not measured yet: benchmark or evaluate it with the buttons below.")
        return
    newest_first = sorted(measurements, key=lambda m: (m.get("created_at") or "", m.get("id") or 0), reverse=True)
    latest_bench = next((m["id"] for m in newest_first if m.get("kind") == "benchmark"), None)
    earlier = [m for m in newest_first if m.get("kind") == "benchmark" and m["id"] != latest_bench]
    for m in newest_first:
        if m["id"] == latest_bench:
            with st.container(border=True):
                benchmark(m, m.get("summary") or {}, hardware.get(str(m.get("hardware_id"))))
        elif m.get("kind") != "benchmark":
            evaluation(m, m.get("summary") or {})
    for m in earlier:
        with st.expander(f"Earlier benchmark · {m.get('runtime') or '?'} · {m.get('created_at') or ''}"):
            benchmark(m, m.get("summary") or {})


def benchmark(m: dict[str, Any], s: dict[str, Any], hw: dict[str, Any] | None = None) -> None:
    st.markdown(f"**Benchmark** · {s.get('runtime') or m.get('runtime') or '?'} · {m.get('created_at') or ''}")
    if hw is not None:
        st.caption(f"Measured on {api.hardware_text(hw)}", help=api.versions_text(hw))
    source = api.source_text(s)
    if source:  # the search's interleaved timing, not a benchmark job's grid: say so, and which search
        st.caption(source[0].upper() + source[1:] + ". A benchmark job measures it on its own.")
    _explanations(s)
    for warning in s.get("warnings") or []:
        st.warning(str(warning), icon=":material/speed:")
    cols = st.columns(4)
    cols[0].metric("Load time", _ms(s.get("load_time_ms")))
    cols[1].metric("First inference", _ms(s.get("cold_latency_ms")))
    cols[2].metric("File size", tables.human_bytes(s.get("size_bytes")))
    cols[3].metric("Gzipped", tables.human_bytes(s.get("gzip_bytes")))
    results = s.get("results") or []
    roofline = [c for c in s.get("roofline") or [] if isinstance(c, dict)]
    if results:
        left, right = st.columns(2) if roofline else (st.container(), None)
        grid = len({r.get("batch") for r in results}) * len({r.get("threads") for r in results}) > 1
        figure = charts.grid_figure(results) if grid else charts.benchmark_figure(results)
        left.plotly_chart(figure, key=f"grid_{m['id']}" if grid else f"bench_{m['id']}")
        if right is not None:
            right.plotly_chart(charts.roofline_figure(roofline), key=f"roofline_{m['id']}")
        st.dataframe(tables.benchmark_rows(results, s.get("roofline")), hide_index=True, key=f"bench_table_{m['id']}",
                     column_config={"% of peak": st.column_config.NumberColumn(format="%.2f%%"),
                                    "throughput /s": st.column_config.NumberColumn(format="%.0f"),
                                    "GFLOP/s": st.column_config.NumberColumn(format="%.3g")}, placeholder="—")
    profile = s.get("profile") or {}
    if profile.get("op_types"):
        st.plotly_chart(charts.profile_figure(profile), key=f"profile_{m['id']}")
        st.caption(charts.profile_caption(profile))
    load = tables.concurrency_rows(s.get("concurrency"))
    if load:
        st.markdown(f"**Load test** · {s['concurrency'].get('clients', '?')} concurrent clients")
        st.dataframe(load, hide_index=True, key=f"load_{m['id']}",
                     column_config={"throughput /s": st.column_config.NumberColumn(format="%.0f")}, placeholder="—")


def _explanations(s: dict[str, Any]) -> None:
    """Why this variant is slower or faster than its parent: the verdict first, each cause a bullet."""
    lines = [str(line) for line in s.get("explanations") or []]
    if not lines:
        return
    compared = s.get("compared_with")
    if isinstance(compared, dict) and compared.get("model_id"):
        st.caption(f"Against the parent's (#{compared['model_id']}) latest benchmark on this hardware:")
    box = st.warning if s.get("explanation_tone") == "warning" else st.info
    box(tables.explanation_markdown(lines), icon=":material/insights:")


def evaluation(m: dict[str, Any], s: dict[str, Any]) -> None:
    with st.container(border=True):
        data = next((d for d in ui.datasets() if d["id"] == m.get("dataset_id")), None)
        where = f"{data['name']} (#{data['id']}{', ' + data['role'] if data.get('role') else ''})" if data \
            else f"data set #{m.get('dataset_id')}"
        st.markdown(f"**Evaluation** on {where} · {s.get('n_samples', '?')} samples · {m.get('created_at') or ''}")
        scalars = {k: v for k, v in (s.get("metrics") or {}).items() if isinstance(v, (int, float))}
        scalars |= {f"fidelity {k}": v for k, v in (s.get("fidelity") or {}).items() if isinstance(v, (int, float))}
        if not scalars:
            st.caption("No metrics were recorded.")
        for col, (name, value) in zip(st.columns(max(1, min(len(scalars), 5))), list(scalars.items())[:5]):
            col.metric(name.replace("_", " "), f"{value:.4g}")


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} ms"


def history(model_id: int, total: int) -> None:
    """Every measurement of the model, newest first, a page at a time."""
    if total <= 1:
        return
    pages = (total + HISTORY_PAGE - 1) // HISTORY_PAGE
    with st.expander(f"All {total} measurements"):
        page = st.number_input("Page", 1, pages, 1, key=f"history_page_{model_id}") if pages > 1 else 1
        rows, _ = api.measurement_history(model_id, offset=(page - 1) * HISTORY_PAGE, limit=HISTORY_PAGE)
        st.dataframe(tables.history_rows(rows), hide_index=True, key=f"history_{model_id}", placeholder="—")
