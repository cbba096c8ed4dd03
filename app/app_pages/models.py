"""Models: one family's lineage (focused on a variant when it is large), its variants, and one model's
details and actions. The family, the variant and the tab live in the URL."""
from __future__ import annotations

import streamlit as st

from app import charts, model_actions, model_panel, tables, ui
from engine import api

FULL_TREE_UP_TO = 40  # variants drawn whole; past this the lineage focuses on the selected variant

st.title("Models")
if not ui.families():
    ui.empty_state("No models yet.")
    st.stop()

left, right = st.columns(2)
with left:
    family = ui.pick_family()
members = ui.members(family["id"])
record = api.get_champion(family["id"])
champion = record.model_id if record else None
search = st.text_input("Find variants", key="lineage_search", placeholder="name, pass, #id or tag",
                       help="Matches are ringed in red in the lineage and offered first in the picker.")
hits = {m["id"] for m in api.family_members(family["id"], search=search)} if search.strip() else set()
candidates = [m for m in members if m["id"] in hits] + [m for m in members if m["id"] not in hits] if hits else members
with right:
    selected = ui.pick_model("Variant", candidates, default=champion or family["id"])
if search.strip():
    st.caption(f"{len(hits)} of {len(members)} variants match “{search.strip()}”.")

with st.expander(f"Variants of this family ({len(members)})", expanded=len(members) <= 12):
    st.dataframe(tables.models_table(members, {champion} - {None}), hide_index=True, key="models_table",
                 column_config={"params": st.column_config.NumberColumn(format="localized")}, placeholder="—")

if len(members) > FULL_TREE_UP_TO:
    whole = st.toggle("Whole lineage", key="lineage_whole", help="Draw every variant (labels move into the hover).")
    shown, note = (members, f"All {len(members)} variants.") if whole else charts.lineage_focus(members, selected["id"], hits)
    st.caption(note + " Pick a variant, or search, to move the focus.")
else:
    shown = members
st.plotly_chart(charts.lineage_figure(shown, champion, selected["id"], hits), key="lineage")

doc = api.model_review(selected["id"])
model_panel.render(doc)
st.divider()
model_actions.render(doc)
model_actions.catalogue_form(doc)
