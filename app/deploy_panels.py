"""The Deploy page's lower half: try one input on the running server, and its load test, which runs as a
background job on this host's worker (progress from the job, the curve from its stored result), so the
page stays responsive and a reload finds the running or finished test."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import serving_charts, tables, ui
from engine import api


def try_it(url: str, name: str, deployment: dict[str, Any]) -> None:
    st.subheader("Try it")
    kind = st.radio("Input", ["JSON", "Data set row", "Image file"], horizontal=True, key="deploy_try_kind")
    version_choice = st.selectbox("Version", ["newest"] + [v["version"] for v in deployment["versions"]],
                                  key="deploy_try_version")
    newest_model = max(deployment["versions"], key=lambda v: v["version"])["model_id"]
    with ui.shows_errors():
        value = None
        if kind == "JSON":
            text = st.text_area("One input (a nested JSON array, without the batch dimension)", key="deploy_try_json")
            value = ("json", text) if text.strip() else None
        elif kind == "Data set row":
            by_id, sets = ui.datasets_for("evaluation")
            ds = ui.pick("Data set", sets, "deploy_try_dataset",
                         format_func=lambda i: tables.dataset_label(by_id[i])) if sets else None
            row = st.number_input("Row", 0, 10**7, 0, key="deploy_try_row")
            value = ("dataset", ds, int(row)) if ds else None
        else:
            upload = st.file_uploader("Image", type=["png", "jpg", "jpeg", "bmp"], key="deploy_try_image")
            value = ("image", upload.getvalue()) if upload else None
        if st.button("Send", disabled=value is None, key="deploy_try_send") and value:
            array = api.serving.input_from(value[0], value[1], model_id=newest_model,
                                           row=value[2] if len(value) > 2 else 0)
            st.session_state["deploy_try_answer"] = api.serving.try_input(
                url, name, array, None if version_choice == "newest" else int(version_choice))
            st.session_state["deploy_try_label"] = (api.serving.row_label(value[1], value[2])
                                                    if value[0] == "dataset" else None)
    answer = st.session_state.get("deploy_try_answer")
    if answer:
        label = st.session_state.get("deploy_try_label")
        st.caption(f"answered by version {answer['version']}"
                   + (f"; the data set labels this row {label}" if label is not None else ""))
        if "top" in answer:
            st.dataframe(answer["top"], hide_index=True, key="deploy_try_top", placeholder="—")
        else:
            st.json(answer["outputs"])


def _levels(text: str) -> list[int] | None:
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        st.error(f"concurrency levels must be integers separated by commas, got {text!r}")
        return None


def load_test(url: str, name: str) -> None:
    st.subheader("Load test")
    latest = api.serving.loadtest_jobs(name, limit=1)
    busy = bool(latest) and latest[0].status in ("queued", "running")
    l1, l2, l3, l4 = st.columns(4)
    levels = l1.text_input("Concurrency levels", "1,2,4,8", key="deploy_lt_levels")
    per_level = l2.number_input("Requests per level (at most)", 1, 100_000, 200, key="deploy_lt_requests")
    seconds = l3.number_input("Seconds per level (at most)", 1.0, 120.0, 10.0, key="deploy_lt_seconds")
    budget = l4.number_input("p99 budget (ms)", 0.1, 100_000.0, 100.0, key="deploy_lt_budget")
    st.caption("Runs on this host's worker as a background job, bounded by the requests and seconds per level; "
               "leaving or reloading the page does not stop it.")
    if st.button("Run load test", type="primary", icon=":material/speed:", key="deploy_lt_run", disabled=busy):
        concurrency = _levels(levels)
        if concurrency:
            with ui.shows_errors():
                api.serving.submit_loadtest(url, name, concurrency, int(per_level), float(seconds), float(budget))
                st.rerun()
    if not latest:
        return
    job = ui.watch_job(latest[0].id, quiet=True)
    if not job or job["status"] != "succeeded":
        return
    result = job["result"]
    best = result["best"]
    st.success(f"Best within p99 {result['config']['p99_budget_ms']:g} ms: {best['throughput_per_s']:.1f} req/s at "
               f"{best['concurrency']} client{'s' if best['concurrency'] != 1 else ''}" if best else "No level kept its p99 within the budget.")
    st.plotly_chart(serving_charts.curve_figure(result), key="deploy_curve")
    st.caption(f"Stored as measurement #{result['measurement_id']} of model {result['model_id']} (version "
               f"{result['version']}, {result['failures']} failed requests); it appears on Compare.")
