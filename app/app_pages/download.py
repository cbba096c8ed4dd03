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
if not ui.families():
    ui.empty_state("Nothing to download yet.")
    st.stop()

left, right = st.columns(2)
with left:
    family = ui.pick_family()
with right:
    machine = ui.pick_machine(family["id"], "Deploying to")
members = ui.models(family["id"])
record = api.get_champion(family["id"], machine)
champion = record.model_id if record else None
if st.session_state.get("download_for") != (family["id"], machine):
    st.session_state.pop("download_model_id", None)  # another family or machine: its champion comes first
st.session_state["download_for"] = (family["id"], machine)
model = ui.pick_model("Model", members, state_key="download_model_id", default=champion)
whose = "the family's champion" if record is None or record.hardware_id is None else \
    f"the champion for hardware #{record.hardware_id}"
if record and model["id"] == champion:
    st.caption(f"★ This is {whose}" + tables.champion_note(record.note, record.chosen_at))
elif record:
    label = next((tables.model_label(m) for m in members if m["id"] == champion), f"#{champion}")
    st.caption(f"{whose[0].upper()}{whose[1:]} is {label}" + tables.champion_note(record.note, record.chosen_at))
if machine is not None and (record is None or record.hardware_id is None):
    st.caption("No champion was chosen for this machine yet (Compare → Champion, with the machine chosen).")

# What is being downloaded, in figures, before it is exported: the row Compare shows for it (on this machine's
# benchmarks when one is chosen), each with where it came from.
row = api.family_overview(family["id"], model_ids=[model["id"]], hardware_id=machine)[0]
f1, f2, f3, f4 = st.columns(4)  # a root has no parent to agree with: its fourth column stays empty
f1.metric("Size", tables.human_bytes(model.get("size_bytes")))
f2.metric("Latency p50", "—" if row["latency_p50_ms"] is None else f"{row['latency_p50_ms']:.3g} ms",
          help=row["latency_provenance"] or "Not benchmarked yet: Optimize → Benchmark, or Compare → Benchmark them.")
f3.metric("Accuracy", "—" if row["accuracy"] is None else f"{row['accuracy']:.1%}",
          help=row["accuracy_provenance"] or "Not evaluated yet: Optimize → Evaluate on a data set.")
if model.get("parent_id") is not None:
    f4.metric("Top-1 agreement with parent", "—" if row["agreement"] is None else f"{row['agreement']:.1%}")
if row["data_warning"]:
    st.warning(row["data_warning"])

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
