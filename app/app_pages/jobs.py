"""Jobs: the live queue, and one job's progress, error, log tail and cancel button."""
from __future__ import annotations

import streamlit as st

from app import tables, ui
from engine import api

st.title("Jobs")
st.caption("Every import, optimization, benchmark, evaluation and export runs as a background job. "
           "This page refreshes itself.")
statuses = st.multiselect("Show", ["queued", "running", "succeeded", "failed", "cancelled"],
                          default=["queued", "running", "succeeded", "failed", "cancelled"], key="job_filter")


@st.fragment(run_every=1.5)
def live_table() -> None:
    jobs = [j.to_json() for j in api.list_jobs() if j.status in statuses]
    if not jobs:
        st.info("No jobs yet. Upload a model or load the demo on Home.")
        return
    st.dataframe(tables.jobs_table(jobs), hide_index=True, key="jobs_table",
                 column_config={"progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0),
                                "error": st.column_config.TextColumn(width="medium")})


@st.fragment(run_every=1.5)
def job_detail(job_id: int) -> None:
    job = api.get_job(job_id).to_json()
    st.subheader(f"Job #{job['id']} · {job['kind']} · {job['status']}")
    st.progress(min(max(job["progress"], 0.0), 1.0), text=job["message"] or job["status"])
    if job["status"] == "failed" or job["status"] == "cancelled":
        st.error(job["error"] or f"the job was {job['status']}")
    elif job["status"] == "succeeded":
        st.success(tables.job_outcome(job))
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


@st.fragment(run_every=3)
def workers_section() -> None:
    workers = api.list_workers()
    with st.expander(f"Workers ({len(workers)} live)", expanded=False):
        if workers:
            st.dataframe(tables.workers_table(workers), hide_index=True, key="workers_table")
        else:
            st.caption("No worker is running: jobs run in the command that submits them. Start `trimline worker` "
                       "(with `--label NAME` on a benchmark host) to run them in the background.")


live_table()
workers_section()
by_id = {j.id: j for j in api.list_jobs()}  # newest first
if by_id:
    chosen = ui.pick("Job", list(by_id), "job_id", format_func=lambda i: f"#{i} {by_id[i].kind} ({by_id[i].status})")
    job_detail(chosen)
