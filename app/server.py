"""The dashboard as served: Streamlit's app behind Trimline's front door (``app/guard.py``).

``trimline up`` runs ``streamlit run app/server.py``; Streamlit finds ``app`` below and serves the
pages of ``streamlit_app.py`` with the guard's middleware and routes in front of its own.
"""
import streamlit as st
from starlette.middleware import Middleware

from app.guard import Guard, routes
from engine import api

api.harden_process()  # at start: no reading of this process's memory; secrets leave its environment
app = st.App("streamlit_app.py", routes=routes(), middleware=[Middleware(Guard)])
