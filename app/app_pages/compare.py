"""Compare: one family's variants on speed, size and accuracy; Pareto front; choose the champion."""
from __future__ import annotations

import streamlit as st

from app import charts, tables, ui
from engine import api

st.title("Compare")
st.caption("Latest benchmark (first configuration) and evaluation of each variant; ratios are to the family's root.")
if not ui.families():
    ui.empty_state("No models to compare yet.")
    st.stop()

family = ui.pick_family()
members = ui.models(family["id"])
labels = {m["id"]: tables.model_label(m) for m in members}
chosen = st.multiselect("Variants", list(labels), default=list(labels), format_func=labels.get, key="compare_ids")
if not chosen:
    st.info("Choose at least one variant.")
    st.stop()
rows = api.compare(sorted(chosen))
champion = api.get_champion(family["id"])
front = charts.pareto_ids(rows)

unmeasured = [r["id"] for r in rows if r.get("latency_p50_ms") is None]
if unmeasured:
    st.warning(f"{len(unmeasured)} of {len(rows)} variants have no benchmark yet: "
               + ", ".join(f"#{i}" for i in unmeasured) + ".")
    if st.button("Benchmark them (batch 1, 1 thread)", type="primary", key="bench_missing"):
        with ui.shows_errors():
            st.session_state["compare_jobs"] = [api.submit_benchmark(i, {"batches": [1], "threads": [1]}).id
                                                for i in unmeasured]
for job_id in st.session_state.get("compare_jobs", []):
    ui.watch_job(job_id, quiet=True)

if len(rows) > len(unmeasured):
    left, right = st.columns(2)
    left.plotly_chart(charts.tradeoff_scatter(rows, champion), key="tradeoff")
    right.plotly_chart(charts.latency_bars(rows, champion), key="latency_bars")
roofline = charts.variant_roofline([m for m in members if m["id"] in chosen], api.latest_benchmarks(sorted(chosen)))
if roofline:
    st.plotly_chart(charts.roofline_figure(roofline, "Achieved GFLOP/s per variant against the measured peak"),
                    key="roofline")
st.dataframe(tables.compare_table(rows, front, champion), hide_index=True, key="compare_table",
             column_config={"latency p50 ms": st.column_config.NumberColumn(format="%.3f"),
                            "latency × root": st.column_config.NumberColumn(format="%.2f×"),
                            "size × root": st.column_config.NumberColumn(format="%.2f×"),
                            "accuracy": st.column_config.NumberColumn(format="percent"),
                            "accuracy × root": st.column_config.NumberColumn(format="%.3f×"),
                            "agreement": st.column_config.NumberColumn(format="percent")})
st.caption("Pareto ✓: no other variant is at once faster, smaller and (where measured) more accurate. "
           "Accuracy needs an evaluation on a labelled data set (Models page → Evaluate).")

st.subheader("Champion")
with st.form("champion"):
    pick = st.selectbox("Champion of this family", list(labels), format_func=labels.get,
                        index=list(labels).index(champion) if champion in labels else 0)
    note = st.text_input("Note", placeholder="why this variant: e.g. 2.1× faster, accuracy unchanged")
    if st.form_submit_button("Mark as champion", type="primary"):
        with ui.shows_errors():
            api.set_champion(pick, note)
            st.rerun()
record = api.get_champion_record(family["id"])
if record:
    st.success(tables.champion_text(labels.get(record.model_id, f"#{record.model_id}"), record.note, record.chosen_at),
               icon=":material/star:")
    st.caption("It is pre-selected on Download.")
