"""Compare page sections: 2–4 variants side by side (metrics with deltas and CIs, pass settings, op histograms,
graph diff to the parent, Netron views), an interleaved A/B from the page, and the champion with its history."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import charts, guard, tables, ui
from engine import api
from engine.errors import EngineError

DECISION_COLUMNS = {
    "Pareto": st.column_config.TextColumn(width="small", help="No variant is faster, smaller and more accurate."),
    "champion": st.column_config.TextColumn(width="small"),
    "accuracy": st.column_config.NumberColumn(format="percent", width="small", help="On the chosen data set."),
    "accuracy Δ root": st.column_config.NumberColumn(format="%+.2f%%", width="small"),
    "latency p50 ms": st.column_config.NumberColumn(format="%.4f", width="small"),
    "latency × root": st.column_config.NumberColumn(format="%.2f×", width="small",
                                                    help="Divided by the root's p50; see basis."),
    "basis": st.column_config.TextColumn(width="small", help="Empty: same runtime, settings and hardware."),
    "size × root": st.column_config.NumberColumn(format="%.2f×", width="small"),
    "agreement": st.column_config.NumberColumn(format="percent", help="Top-1 agreement with the parent."),
}


def render(picked: list[dict[str, Any]]) -> None:
    st.subheader("Side by side")
    st.dataframe(tables.side_by_side_rows(picked), hide_index=True, key="side_metrics", placeholder="—")
    st.markdown("**How they were made**")
    settings = api.config_diff([r["id"] for r in picked])
    st.dataframe(settings, hide_index=True, key="side_config",
                 column_config={"differs": st.column_config.CheckboxColumn(help="The settings disagree.")},
                 placeholder="—")
    models = {r["id"]: api.get_model(r["id"]) for r in picked}
    st.plotly_chart(charts.op_histograms_figure({f"#{i}": m.info.get("op_histogram") or {} for i, m in models.items()}),
                    key="side_ops")
    _graph_diffs(picked)
    _ab_test(picked)
    if st.toggle("Show the graphs next to each other (Netron)", key="side_netron"):
        for col, (i, m) in zip(st.columns(len(models)), models.items()):
            url = guard.viewer_link(i, m.format) if ui.viewer_ready() else None
            with col:
                st.caption(f"#{i} {m.pass_name or 'root'}")
                if url:
                    st.iframe(url, height=520)
                else:
                    st.info("This model cannot be shown in the graph viewer.")


def _graph_diffs(picked: list[dict[str, Any]]) -> None:
    with_parent = [r for r in picked if r.get("parent_id")]
    if not with_parent:
        return
    st.markdown("**Graph diff against the parent**")
    for r in with_parent:
        with st.expander(f"#{r['parent_id']} → #{r['id']} ({r.get('pass')})", expanded=len(with_parent) == 1):
            diff = _diff(r["parent_id"], r["id"])
            nodes = diff.get("nodes")
            if nodes:
                st.markdown(tables.graph_diff_sentence(nodes))
                for title, key in (("replaced", "replaced"), ("added", "added"), ("removed (fused or folded)", "removed"),
                                   ("kept in float", "kept_float")):
                    if nodes.get(key):
                        st.caption(f"{title}: {nodes[f'n_{key}']}")
                        st.dataframe(nodes[key], hide_index=True, key=f"diff_{r['id']}_{key}", placeholder="—")
            elif diff.get("note"):
                st.caption(diff["note"])
            st.dataframe([o for o in diff["ops"] if o["change"]] or diff["ops"], hide_index=True,
                         key=f"diff_ops_{r['id']}", placeholder="—")


@st.cache_data(ttl=600, show_spinner="Reading both graphs…")
def _diff(parent_id: int, child_id: int) -> dict[str, Any]:
    return api.graph_diff(parent_id, child_id)


def _ab_test(picked: list[dict[str, Any]]) -> None:
    onnx = [r for r in picked if r.get("format") == "onnx"]
    st.markdown("**Is one really faster? Interleaved A/B**")
    if not ui.can("engineer"):
        ui.viewer_note()
        return
    if len(onnx) < 2:
        st.caption("The interleaved comparison times two ONNX variants; choose two.")
        return
    labels = {r["id"]: tables.variant_label(r) for r in onnx}
    a_col, b_col, go_col = st.columns([2, 2, 1])
    a = a_col.selectbox("A", list(labels), format_func=labels.get, key="ab_a")
    b = b_col.selectbox("B", [i for i in labels if i != a], format_func=labels.get, key="ab_b")
    if go_col.button("Time A against B", key="ab_run", help="A B A B … on one thread pool, then the ratio's CI."):
        with ui.shows_errors():
            st.session_state["ab_job"] = api.submit_ab_compare(a, b).id
    job_id = st.session_state.get("ab_job")
    if job_id:
        job = ui.watch_job(job_id, quiet=True)
        if job and job.get("status") == "succeeded":
            st.info(tables.ab_verdict(job["result"]), icon=":material/balance:")


def champion_section(root_id: int, labels: dict[int, str], record: Any, machine: int | None) -> None:
    """The champion (for the chosen target machine when there is one), the form to choose it, and its history."""
    st.subheader("Champion" if machine is None else f"Champion for hardware #{machine}")
    champion = record.model_id if record else None
    if ui.can("engineer"):
        with st.form("champion"):
            pick = st.selectbox("Champion of this family" if machine is None else "Champion on this machine",
                                list(labels), format_func=labels.get,
                                index=list(labels).index(champion) if champion in labels else 0)
            note = st.text_input("Note", placeholder="why this variant: e.g. 2.1× faster, accuracy unchanged")
            if st.form_submit_button("Mark as champion", type="primary"):
                try:
                    api.set_champion(pick, note, hardware_id=machine)
                except EngineError as exc:
                    st.error(str(exc))
                else:
                    ui.refresh()
                    st.rerun()
    _champion_record(root_id, labels, record, machine)


def _champion_record(root_id: int, labels: dict[int, str], record: Any, machine: int | None) -> None:
    if record:
        st.success(tables.champion_text(labels.get(record.model_id, f"#{record.model_id}"), record.note,
                                        record.chosen_at), icon=":material/star:")
        if machine is not None and record.hardware_id is None:
            st.caption("No champion was chosen for this machine yet: this is the family's champion.")
        st.caption("It is pre-selected on Download" + (" for this machine." if machine is not None else "."))
    machines = [m for m in ui.machines(root_id) if m["champion"] is not None]
    if machines:
        st.dataframe([{"machine": f"hardware #{m['id']}", "cpu": m["text"],
                       "champion": labels.get(m["champion"], f"#{m['champion']}")} for m in machines],
                     hide_index=True, key="machine_champions", placeholder="—")
    events = api.champion_history(root_id)
    if events:
        with st.expander(f"Champion history ({len(events)})"):
            st.dataframe(tables.champion_history_rows(events), hide_index=True, key="champion_history",
                         placeholder="—")


def report_section(root_id: int, dataset_id: int | None) -> None:
    """The family as an offline HTML report and every measurement as CSV, prepared on request."""
    st.subheader("Report")
    st.caption("One HTML file (chart, tables, provenance, champion and its history; opens offline) and a CSV of "
               "every measurement. Also `trimline report FAMILY -o report.html --csv measurements.csv`.")
    if st.button("Prepare the report", key="prepare_report", icon=":material/description:"):
        import io

        with ui.shows_errors():
            buffer = io.StringIO()
            api.family_measurements_csv(root_id, buffer)
            st.session_state["report"] = (root_id, api.family_report_html(root_id, dataset_id), buffer.getvalue())
    ready = st.session_state.get("report")
    if ready and ready[0] == root_id:
        left, right = st.columns(2)
        left.download_button("Download report.html", ready[1], file_name=f"trimline-family-{root_id}.html",
                             mime="text/html", key="report_html")
        right.download_button("Download measurements.csv", ready[2], file_name=f"trimline-family-{root_id}.csv",
                              mime="text/csv", key="report_csv")
