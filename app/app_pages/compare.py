"""Compare: a family's variants on speed, size and accuracy with the provenance of every figure; the Pareto
front; 2–4 variants side by side with an interleaved A/B; the champion and its history."""
from __future__ import annotations

import streamlit as st

from app import charts, side_by_side, tables, ui, variant_charts
from engine import api

SMALL_FAMILY = 12  # every variant is chosen by default up to this size; past it, the root, champion and front

st.title("Compare")
st.caption("Each variant's latest benchmark (first configuration) and its latest evaluation on the chosen data set. "
           "Ratios are to the family's root; the basis column says whether they compare like with like.")
if not ui.families():
    ui.empty_state("No models to compare yet.")
    st.stop()

top_left, top_mid, top_right = st.columns(3)
with top_left:
    family = ui.pick_family()
with top_mid:
    machine = ui.pick_machine(family["id"])
evaluated = api.evaluation_datasets(family["id"])
with top_right:
    sets = {d["id"]: d for d in evaluated}
    dataset_id = ui.pick("Accuracy on data set", list(sets), "eval_dataset",
                         format_func=lambda i: f"#{i} {sets[i]['name']}" + (f" ({sets[i]['role']})" if sets[i]["role"]
                                                                           else ""),
                         help="Accuracy figures are shown only for evaluations on this data set.") if sets else None
rows = ui.overview(family["id"], dataset_id, machine)
by_id = {r["id"]: r for r in rows}
record = api.get_champion(family["id"], machine)
champion = record.model_id if record else None
labels = {r["id"]: tables.variant_label(r) for r in rows}

if len(rows) <= SMALL_FAMILY:
    default = list(labels)
else:
    front = [r["id"] for r in rows if r["pareto"]][:8]
    default = list(dict.fromkeys([family["id"], *([champion] if champion in labels else []), *front]))
from_link = [int(v) for v in st.query_params.get_all("variants") if v.isdigit() and int(v) in labels]
if "compare_ids" not in st.session_state or st.session_state.get("compare_family") != family["id"]:
    st.session_state["compare_ids"] = from_link or default  # switching family picks a sensible default
    st.session_state["compare_family"] = family["id"]
chosen = st.multiselect("Variants", list(labels), format_func=labels.get, key="compare_ids")
st.query_params["variants"] = [str(i) for i in chosen]
if not chosen:
    st.info("Choose at least one variant.")
    st.stop()
picked = [by_id[i] for i in chosen]

for line in tables.provenance_warnings(rows):
    st.warning(line, icon=":material/report:")
unmeasured = [r["id"] for r in picked if r.get("latency_p50_ms") is None]
if unmeasured:
    st.warning(f"{len(unmeasured)} of {len(picked)} variants have no benchmark yet: "
               + ", ".join(f"#{i}" for i in unmeasured) + ".")
    batch, threads = tables.common_setting(picked)
    plural = "s" if threads != 1 else ""
    if st.button(f"Benchmark them (batch {batch}, {threads} thread{plural})", type="primary", key="bench_missing",
                 help="At the batch and thread count the other variants were timed at, so their ratios compare "
                      "like with like."):
        with ui.shows_errors():
            st.session_state["compare_jobs"] = (family["id"], [
                api.submit_benchmark(i, {"batches": [batch], "threads": [threads]}).id for i in unmeasured])
watched_family, watched = st.session_state.get("compare_jobs") or (None, [])
for job_id in watched if watched_family == family["id"] else []:  # another family's jobs stay with it
    ui.watch_job(job_id, quiet=True)

if len(picked) > len(unmeasured):
    left, right = st.columns(2)
    left.plotly_chart(variant_charts.tradeoff_scatter(rows, champion, labelled=set(chosen)), key="tradeoff")
    right.plotly_chart(variant_charts.latency_bars(picked, champion), key="latency_bars")
roofline = charts.variant_roofline(picked, api.latest_benchmarks(chosen))
if roofline:
    st.plotly_chart(charts.roofline_figure(roofline, "Achieved GFLOP/s per variant against the measured peak"),
                    key="roofline")
st.dataframe(tables.decision_table(picked, champion), hide_index=True, key="compare_table",
             column_config=side_by_side.DECISION_COLUMNS, placeholder="—")
st.caption("Pareto ✓: no other variant of the family is at once faster, smaller and (where every variant has it) "
           "more accurate. Hover a column title for what it means.")
for line in tables.provenance_lines(picked):
    st.caption(line)
for r in picked:
    if r.get("explanation") and r.get("explanation_tone") == "warning":
        st.warning(f"**#{r['id']} {r.get('pass') or 'root'}**: " + tables.explanation_markdown(r["explanation"]),
                   icon=":material/insights:")
if len(rows) > len(picked):
    with st.expander(f"Every variant of the family ({len(rows)})"):
        st.dataframe(tables.decision_table(rows, champion), hide_index=True, key="family_table",
                     column_config=side_by_side.DECISION_COLUMNS, placeholder="—")

if 2 <= len(picked) <= 4:
    side_by_side.render(picked)
elif len(picked) > 4:
    st.caption("Choose 2–4 variants to see them side by side, with their graph diff and an interleaved A/B.")

side_by_side.champion_section(family["id"], labels, record, machine)
side_by_side.report_section(family["id"], dataset_id)
