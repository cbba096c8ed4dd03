"""Trimline's dashboard: sign-in (when configured), navigation, and the one error boundary for pages."""
from __future__ import annotations

import streamlit as st

from app import auth, ui
from engine import api
from engine.errors import EngineError

api.harden_process()  # no reading of this process's memory; secrets leave its environment
st.set_page_config(page_title="Trimline", page_icon="✂️", layout="wide")  # an emoji: material favicons load from Google

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/models.py", title="Models", icon=":material/account_tree:"),
    st.Page("app_pages/optimize.py", title="Optimize", icon=":material/tune:"),
    st.Page("app_pages/jobs.py", title="Jobs", icon=":material/pending_actions:"),
    st.Page("app_pages/datasets.py", title="Data sets", icon=":material/dataset:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/scatter_plot:"),
    st.Page("app_pages/download.py", title="Download", icon=":material/download:"),
    st.Page("app_pages/deploy.py", title="Deploy", icon=":material/rocket_launch:"),
]
VIEWER_PAGES = {"Models", "Jobs", "Data sets", "Compare", "Download"}

try:
    api.ready()  # a home that is a file, an unwritable home or an unreachable database: one sentence
except EngineError as exc:
    st.error(str(exc))
    st.stop()
if not auth.gate():
    st.stop()
st.session_state["user"] = auth.current_account()
st.session_state["role"] = auth.role_of(st.session_state["user"])
api.set_actor(st.session_state["user"])  # jobs submitted in this run record who asked for them
# viewers read, compare and download; importing, optimizing and deploying is for engineers and admins
page = st.navigation(PAGES if ui.can("engineer") else [p for p in PAGES if p.title in VIEWER_PAGES])
try:
    ui.viewer_ready()
    page.run()
except EngineError as exc:  # the page boundary: one sentence, no traceback
    st.error(str(exc))
except Exception as exc:  # a full disk or a damaged database file is said in words too
    if (sentence := api.explain_failure(exc)) is None:
        raise
    st.error(sentence)
