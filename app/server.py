"""The dashboard as served: Streamlit's app behind Trimline's front door (``app/guard.py``).

``trimline up`` runs ``streamlit run app/server.py``; Streamlit finds ``app`` below and serves the
pages of ``streamlit_app.py`` with the guard's middleware and routes in front of its own.
"""
import streamlit as st
from starlette.middleware import Middleware

from app.guard import Guard, routes

app = st.App("streamlit_app.py", routes=routes(), middleware=[Middleware(Guard)])
