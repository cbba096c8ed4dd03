"""Download: export a model (the family's champion by default) in a deployable format."""
from __future__ import annotations

import streamlit as st

from app import tables, ui
from engine import api

TARGETS = {"onnx": "ONNX model file", "keras": "Keras .keras file", "savedmodel": "TensorFlow SavedModel (zip)",
           "tflite": "TFLite flatbuffer", "bundle": "Verified bundle: model, sample input/outputs, run script, recipe",
           "tfserving": "TensorFlow Serving layout (zip)", "triton": "Triton model repository (zip)"}

st.title("Download")
st.caption("Export a variant as a file you can deploy. Bundles carry a sample input with the outputs the model "
           "gave on it and a script that checks them where the bundle lands.")
family, members, record = ui.choose_family_and_champion("Nothing to download yet.")
champion = record.model_id if record else None
model = ui.pick_model("Model", members, state_key="download_model_id", default=champion)
if record and model["id"] == champion:
    st.caption("★ This is the family's champion" + tables.champion_note(record.note, record.chosen_at))
elif record:
    label = next((tables.model_label(m) for m in members if m["id"] == champion), f"#{champion}")
    st.caption(f"The family's champion is {label}" + tables.champion_note(record.note, record.chosen_at))

targets = api.export_targets(model["format"])
target = st.radio("Format", targets, format_func=lambda t: f"{t} — {TARGETS.get(t, t)}", key="export_target")
exports = st.session_state.setdefault("exports", {})
slot = f"{model['id']}:{target}"
ensemble = False
if target == "triton" and api.can_be_ensemble(model["id"]):
    ensemble = st.toggle("As an ensemble of the chain's two models", key="export_ensemble",
                         help="Each member becomes a Triton model of its own and an ensemble wires them as the "
                              "compose pass did; clients call the ensemble with the composed model's tensor names.")
    slot += ":ensemble" if ensemble else ""
if st.button("Export", type="primary", icon=":material/package_2:", key="export"):
    with ui.shows_errors():
        exports[slot] = api.submit_export(model["id"], target, ensemble=ensemble).id

if slot in exports:
    finished = ui.watch_job(exports[slot])
    if finished and finished["status"] == "succeeded":
        path = api.export_path(api.get_job(finished["id"]))
        st.download_button(f"Download {finished['result']['filename']}", data=path.read_bytes,
                           file_name=finished["result"]["filename"], mime="application/octet-stream",
                           type="primary", icon=":material/download:", on_click="ignore", key="download")
        st.caption(f"sha256 {finished['result'].get('sha256', '')}")
