"""A shared-password gate for team deployments.

When ``TRIMLINE_PASSWORD`` is set, or ``.streamlit/secrets.toml`` has ``[auth] password = "..."``,
every session sees only a login form until the password is given. With neither (the default, bound to
127.0.0.1) there is no login.
"""
from __future__ import annotations

import hmac

import streamlit as st

from engine import api

_KEY = "auth_ok"


def configured_password() -> str | None:
    env = api.settings().password
    if env is not None:
        return env.get_secret_value()
    try:
        return str(st.secrets["auth"]["password"]) or None
    except Exception:  # no secrets file, no [auth] table, or no password key: all mean "no login"
        return None


def password_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def gate() -> bool:
    """True when this session may see the studio; otherwise draws the login form and returns False."""
    expected = configured_password()
    if expected is None or st.session_state.get(_KEY):
        return True
    st.title("Trimline")
    st.caption("This studio is shared with a team. Sign in with the team password.")
    with st.form("login"):
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if password_matches(given, expected):
            st.session_state[_KEY] = True
            st.rerun()
        st.error("That password is not right.")
    return False
