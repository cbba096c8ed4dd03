"""Data sets: each set's shape, labels and role, and which models were evaluated on it or calibrated or
fine-tuned on it (a set used for both is where accuracy stops being held-out)."""
from __future__ import annotations

import streamlit as st

from app import tables, ui
from engine import api

st.title("Data sets")
sets = api.datasets_overview()
if not sets:
    ui.empty_state("No data sets yet.")
    st.stop()
search = st.text_input("Find data sets", key="dataset_search", placeholder="name, role or #id")
shown = [d for d in sets if tables.dataset_matches(d, search)]
st.dataframe(tables.datasets_table(shown), hide_index=True, key="datasets_table", placeholder="—")
for d in shown:
    both = sorted(set(d["evaluated"]) & set(d["trained"]))
    if both:
        st.warning(f"Data set #{d['id']} {d['name']} calibrated or fine-tuned "
                   + ", ".join(f"#{i}" for i in d["trained"]) + " and also evaluated "
                   + ", ".join(f"#{i}" for i in d["evaluated"]) + ": accuracies on it are not held-out.",
                   icon=":material/report:")

if not ui.can("engineer"):
    st.stop()
st.subheader("Role")
by_id = {d["id"]: d for d in sets}
roles = [None, *api.DATASET_ROLES]
# the set is picked outside the form, so "Used for" starts from its current role (it read "not said" for a set
# with a role, and saving the form as it stood cleared it)
chosen = st.selectbox("Data set", list(by_id), format_func=lambda i: tables.dataset_label(by_id[i]))
with st.form("dataset_role"):
    current = by_id[chosen].get("role")
    role = st.selectbox("Used for", roles, index=roles.index(current) if current in roles else 0,
                        format_func=lambda r: r or "not said", key=f"dataset_role_{chosen}")
    if st.form_submit_button("Save role"):
        with ui.shows_errors():
            api.set_dataset_role(chosen, role)
            ui.refresh()
            st.rerun()
