"""Models: every model, one family's lineage, and one model's details and actions."""
from __future__ import annotations

import streamlit as st

from app import charts, model_actions, model_panel, tables, ui
from engine import api

st.title("Models")
everything = ui.models()
if not everything:
    ui.empty_state("No models yet.")
    st.stop()

champions = {api.get_champion(f["id"]) for f in ui.families()} - {None}
with st.expander(f"All models ({len(everything)})", expanded=len(everything) <= 12):
    st.dataframe(tables.models_table(everything, champions), hide_index=True,
                 column_config={"params": st.column_config.NumberColumn(format="localized")})

left, right = st.columns(2)
with left:
    family = ui.pick_family()
members = ui.models(family["id"])
champion = api.get_champion(family["id"])
with right:
    selected = ui.pick_model("Variant", members)
st.plotly_chart(charts.lineage_figure(members, champion, selected["id"]), key="lineage")

doc = api.show_model(selected["id"])
model_panel.render(doc)
st.divider()
model_actions.render(doc)
