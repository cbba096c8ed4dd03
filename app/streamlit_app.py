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
    st.Page("app_pages/people.py", title="People", icon=":material/group:"),
]
VIEWER_PAGES = {"Models", "Jobs", "Data sets", "Compare", "Download"}
ADMIN_PAGES = {"People"}

try:
    api.ready()  # a home that is a file, an unwritable home or an unreachable database: one sentence
except EngineError as exc:
    st.error(str(exc))
    st.stop()
if not auth.gate():
    st.stop()
st.session_state["user"] = auth.current_account()
st.session_state["role"] = auth.role_of(st.session_state["user"])
api.require_sign_in(auth.login_required())  # with sign-in, the engine refuses an unnamed caller
api.set_actor(st.session_state["user"])  # the engine checks this account's role; its jobs record it
# viewers read, compare and download; importing, optimizing and deploying is for engineers; people for admins
shown = [p for p in PAGES if (p.title in VIEWER_PAGES or ui.can("engineer")) and (p.title not in ADMIN_PAGES
                                                                                   or ui.can("admin"))]
page = st.navigation(shown)
try:
    ui.viewer_ready()
    page.run()
except EngineError as exc:  # the page boundary: one sentence, no traceback
    st.error(str(exc))
except Exception as exc:  # a full disk or a damaged database file is said in words too
    if (sentence := api.explain_failure(exc)) is None:
        raise
    st.error(sentence)
