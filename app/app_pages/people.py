"""People (admins): the accounts and their roles, the audit trail, and champion decisions that outlived their
family. The engine checks the role again on every change; this page only makes it convenient."""
from __future__ import annotations

import streamlit as st

from app import tables, ui
from engine import api

ROLE_HELP = "viewer: read and download · engineer: also import, run jobs, choose champions · admin: also people " \
            "and deletions"

st.title("People")
if not ui.can("admin"):
    st.info("Only an admin manages accounts.")
    st.stop()
st.caption(ROLE_HELP)
accounts = api.list_users()
me = st.session_state.get("user")
if accounts:
    st.dataframe([{"account": u["name"], "role": u["role"], "added": u["created_at"],
                   "you": "✓" if u["name"] == me else ""} for u in accounts], hide_index=True, key="people_table",
                   placeholder="—")
else:
    st.info("No named accounts yet: the studio uses the team password (or no sign-in on this machine). Add one below.")

add_col, change_col = st.columns(2)
with add_col, st.form("add_account", clear_on_submit=True):
    st.markdown("**Add an account**")
    name = st.text_input("Account name", key="new_account")
    password = st.text_input(f"Password ({api.MIN_PASSWORD_CHARS}+ characters)", type="password", key="new_password")
    role = st.selectbox("Role", api.ROLES, index=0, key="new_role")
    if st.form_submit_button("Add account", type="primary"):
        with ui.shows_errors():
            api.add_user(name.strip(), password, role)
            st.toast(f"Account {name.strip()} added as {role}.")
            st.rerun()

names = [u["name"] for u in accounts]
if names:
    with change_col, st.form("change_account"):
        st.markdown("**Change or remove an account**")
        chosen = st.selectbox("Account", names, key="change_account_name")
        new_role = st.selectbox("New role", api.ROLES, key="change_account_role")
        confirm = st.checkbox("Yes, remove this account", key="remove_confirm")
        left, right = st.columns(2)
        if left.form_submit_button("Change role"):
            with ui.shows_errors():
                api.set_role(chosen, new_role)
                st.toast(f"{chosen} is now {new_role}.")
                st.rerun()
        if right.form_submit_button("Remove account"):
            if not confirm:
                st.error("Tick “Yes, remove this account” first.")
            else:
                with ui.shows_errors():
                    api.remove_user(chosen)
                    st.toast(f"Account {chosen} removed.")
                    st.rerun()

st.subheader("Audit trail")
events = api.audit_trail()
if events:
    st.dataframe([{"when": e["at"], "who": e["who"] or "—", "action": e["action"], "what": e["target"],
                   "details": ", ".join(f"{k} {v}" for k, v in (e["details"] or {}).items())} for e in events],
                 hide_index=True, key="audit_table", placeholder="—")
else:
    st.caption("Nothing renamed, archived, deleted or changed yet.")
gone = api.deleted_families_history()
if gone:
    with st.expander(f"Champion decisions of deleted families ({len(gone)})"):
        st.dataframe(tables.champion_history_rows(gone, family=True), hide_index=True, key="deleted_history",
                     placeholder="—")
