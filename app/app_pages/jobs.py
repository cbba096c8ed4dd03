"""Jobs: the queue filtered by kind, status and family, a page at a time, and one job's progress, whole
message, error, log tail and cancel button."""
from __future__ import annotations

import streamlit as st

from app import tables, ui
from engine import api

PAGE = 50
STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"]
KINDS = ["import", "dataset_import", "demo", "optimize", "recipe", "auto", "benchmark", "ab_compare", "evaluate", "export"]

st.title("Jobs")
st.caption("Every import, optimization, benchmark, evaluation and export runs as a background job. "
           "This page refreshes itself.")
kind_col, status_col, family_col = st.columns(3)
kinds = kind_col.multiselect("Kind", KINDS, key="job_kinds", placeholder="every kind")
statuses = status_col.multiselect("Show", STATUSES, default=STATUSES, key="job_filter")
roots = {f["id"]: f for f in ui.families()}
family = family_col.selectbox("Family", [None, *roots], key="job_family",
                              format_func=lambda i: "every family" if i is None else f"#{i} {roots[i]['name']}")


@ui.fragment(run_every=1.5)
def live_table() -> None:
    _, total = api.find_jobs(kinds, statuses, family, limit=0)
    pages = max(1, (total + PAGE - 1) // PAGE)
    page = st.number_input(f"Page (of {pages}, {total} jobs)", 1, pages, 1, key="job_page") if pages > 1 else 1
    jobs, _ = api.find_jobs(kinds, statuses, family, offset=(page - 1) * PAGE, limit=PAGE)
    if not jobs:
        st.info("No jobs match." if total == 0 and (kinds or family) else "No jobs yet. Upload a model or load the "
                "demo on Home.")
        return
    st.dataframe(tables.jobs_table(jobs), hide_index=True, key="jobs_table",
                 column_config={"progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0),
                                "message": st.column_config.TextColumn(width="large"),
                                "error": st.column_config.TextColumn(width="large")}, placeholder="—")


@ui.fragment(run_every=1.5)
def job_detail(job_id: int) -> None:
    job = api.get_job(job_id).to_json()
    st.subheader(f"Job #{job['id']} · {job['kind']} · {job['status']}")
    if job["status"] in ("failed", "cancelled"):  # the bar turns into a failure, where the job stopped
        stopped = f"{job['status'].capitalize()} at {job['progress']:.0%}" + (f" ({job['message']})" if job["message"]
                                                                            else "")
        st.status(stopped, state="error", expanded=False)
        st.error(job["error"] or f"the job was {job['status']}")
    else:
        st.progress(min(max(job["progress"], 0.0), 1.0), text=job["message"] or job["status"])
    if job["status"] == "succeeded":
        st.success(tables.job_outcome(job))
    model_id = (job.get("result") or {}).get("model_id") or (job.get("params") or {}).get("model_id")
    if isinstance(model_id, int) and job["status"] != "running" and \
            st.button(f"Open model #{model_id}", icon=":material/account_tree:", key=f"job_model_{job_id}"):
        ui.open_model(model_id)  # what it made or measured, with its figures
    if job["status"] in ("queued", "running"):
        if st.button("Cancel job", icon=":material/cancel:", key=f"cancel_{job_id}"):
            with ui.shows_errors():
                api.cancel_job(job_id)
                st.toast(f"Cancelling job #{job_id}…")
    log = api.job_log(job_id, tail_bytes=8000)
    with st.expander("Log (last lines)", expanded=job["status"] == "failed"):
        if log:
            st.code(log, language=None)
        else:
            st.caption("Nothing logged yet.")


@ui.fragment(run_every=3)
def workers_section() -> None:
    workers = api.list_workers()
    with st.expander(f"Workers ({len(workers)} live)", expanded=False):
        if workers:
            st.dataframe(tables.workers_table(workers), hide_index=True, key="workers_table", placeholder="—")
        else:
            st.caption("No worker is running: jobs run in the command that submits them. Start `trimline worker` "
                       "(with `--label NAME` on a benchmark host) to run them in the background.")


live_table()
workers_section()
recent, _ = api.find_jobs(kinds, statuses, family, limit=PAGE)
by_id = {j["id"]: j for j in recent}
if by_id:
    chosen = ui.pick("Job", list(by_id), "job_id",
                     format_func=lambda i: f"#{i} {by_id[i]['kind']} ({by_id[i]['status']})")
    job_detail(chosen)
