"""Actions on one model (Models page): benchmark, evaluate, mark champion, optimize."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import tables, ui
from engine import api

RUNTIMES = {"onnx": ["onnxruntime"], "keras": ["tensorflow", "keras-predict"],
            "savedmodel": ["tensorflow"], "tflite": ["tflite"]}
OPT_LEVELS = ["disable", "basic", "extended", "all"]


def render(doc: dict[str, Any]) -> None:
    bench, evaluate, champion = st.columns(3)
    with bench:
        _benchmark_form(doc)
    with evaluate:
        _evaluate_form(doc)
    with champion:
        _champion_form(doc)
    if st.button("Optimize this model", icon=":material/tune:", key="to_optimize"):
        st.session_state["model_id"] = doc["id"]
        st.switch_page("app_pages/optimize.py")
    job_id = st.session_state.get("model_job")
    if job_id:
        ui.watch_job(job_id)


def _ints(text: str) -> list[Any]:
    return [int(t) if t.strip().isdigit() else t.strip() for t in text.split(",") if t.strip()]


def _benchmark_form(doc: dict[str, Any]) -> None:
    with st.form(f"bench_{doc['id']}", border=True):
        st.markdown("**Benchmark**")
        batches = st.text_input("Batch sizes", "1", help="Comma-separated, e.g. 1,8.")
        threads = st.text_input("Threads", "1", help="Intra-op thread counts, comma-separated.")
        runtime = st.selectbox("Runtime", RUNTIMES.get(doc["format"], ["onnxruntime"]),
                               help="Where the model is timed.")
        config: dict[str, Any] = {"batches": _ints(batches), "threads": _ints(threads), "runtime": runtime}
        if doc["format"] == "onnx":
            config["opt_levels"] = st.multiselect("ORT graph optimization", OPT_LEVELS, default=["all"])
            config["profile"] = st.checkbox("Per-operator profile", help="Where the time goes, per op type.")
        config["time_budget_s"] = st.number_input("Seconds per configuration", 0.2, 60.0, 2.0, step=0.5)
        if st.form_submit_button("Benchmark", type="primary"):
            with ui.shows_errors():
                st.session_state["model_job"] = api.submit_benchmark(doc["id"], config).id


def _evaluate_form(doc: dict[str, Any]) -> None:
    with st.form(f"eval_{doc['id']}", border=True):
        st.markdown("**Evaluate**")
        data = ui.datasets()
        by_id = {d["id"]: d for d in data}
        dataset_id = st.selectbox("Data set", list(by_id), format_func=lambda i: tables.dataset_label(by_id[i]),
                                  help="Accuracy on its labels, and agreement with the parent model.")
        if st.form_submit_button("Evaluate", disabled=not data):
            with ui.shows_errors():
                st.session_state["model_job"] = api.submit_evaluate(doc["id"], dataset_id).id
        if not data:
            st.caption("Upload a data set on Home first.")


def _champion_form(doc: dict[str, Any]) -> None:
    with st.form(f"champ_{doc['id']}", border=True):
        st.markdown("**Champion**")
        if doc.get("champion"):
            st.caption("This model is its family's champion.")
        note = st.text_input("Why this one", placeholder="e.g. 3× faster, accuracy within 0.2%")
        if st.form_submit_button("Mark as champion", disabled=bool(doc.get("champion"))):
            with ui.shows_errors():
                api.set_champion(doc["id"], note)
                ui.refresh()
                st.rerun()
