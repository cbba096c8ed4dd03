"""Home: what Trimline does, the demo, and uploads of models and data sets."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import tables, ui
from engine import api
from engine.errors import EngineError



def _uploader_key(kind: str) -> str:
    """The uploader's key changes after each queued import, so the submitted file leaves the widget and a
    rerun or a second click cannot import it again."""
    return f"{kind}_upload_{st.session_state.get(f'{kind}_upload_round', 0)}"


def loaded_demo(model_ids: set[int]) -> dict | None:
    """The newest demo that loaded and whose model is still in the catalogue (its job's result), else None."""
    jobs, _ = api.find_jobs(kinds=["demo"], statuses=["succeeded"], limit=5)
    return next((j["result"] for j in jobs if (j.get("result") or {}).get("model_id") in model_ids), None)


def _ended(job_id: int) -> bool:
    """Whether the job has ended (or is gone): its "queued as job #N" line would then be out of date."""
    try:
        return api.get_job(job_id).done
    except EngineError:
        return True


def _model_label(model_id: int) -> str | None:
    """How pickers name the model a job made (read now: the cached list may not hold it yet); None if deleted."""
    try:
        return tables.model_label(api.get_model(model_id).to_json())
    except EngineError:
        return None


def _queued(kind: str, job_id: int, file_name: str, name: str) -> None:
    """Remember the queued job, empty the upload form (on the next run, before its widgets are drawn) and
    say what was queued."""
    st.session_state[f"{kind}_upload_round"] = st.session_state.get(f"{kind}_upload_round", 0) + 1
    st.session_state[f"clear_{kind}_name"] = True
    st.session_state["home_job"] = job_id
    what = "model" if kind == "model" else "data set"
    st.session_state["home_queued"] = (job_id, f"Import of {file_name} as {what} “{name}” queued as job "
                                               f"#{job_id}; its progress shows here and on the Jobs page.")
    st.rerun()


for _kind in ("model", "data"):
    if st.session_state.pop(f"clear_{_kind}_name", False):
        st.session_state[f"{_kind}_name"] = ""

st.title("Trimline")
st.markdown("Take a trained **TensorFlow/Keras** or **ONNX** model to a fast, small, verified artifact: "
            "convert and compress it, measure every variant, compare them, and download the champion.")

models, datasets = ui.models(), ui.datasets()
cols = st.columns(3)
cols[0].metric("Models", len(models))
cols[1].metric("Model families", len(ui.families()))
cols[2].metric("Data sets", len(datasets))

st.subheader("Try it with the demo")
st.caption("Trains a small CNN on scikit-learn's 8×8 digits in a background job (about half a minute), "
           "then imports it with its test set.")
loaded = loaded_demo({m["id"] for m in models})
if loaded is not None and not st.session_state.get("home_job"):  # a second click would load a second copy
    st.caption(f"The demo is loaded: model #{loaded['model_id']} and data set #{loaded['dataset_id']}.")
    if st.button("Open the demo model", type="primary", key="open_demo_model"):
        ui.open_model(loaded["model_id"])
if st.button("Load the demo again" if loaded is not None else "Load demo", icon=":material/rocket_launch:",
             type="secondary" if loaded is not None else "primary", key="load_demo"):
    with ui.shows_errors():
        st.session_state["home_job"] = api.load_demo().id
        ui.refresh()

if st.session_state.get("home_job"):
    queued = st.session_state.get("home_queued")
    if queued and queued[0] == st.session_state["home_job"] and not _ended(queued[0]):
        st.info(queued[1], icon=":material/upload_file:")  # once it ends, the outcome below says how instead
    finished = ui.watch_job(st.session_state["home_job"])
    made = (finished or {}).get("result") or {}
    if made.get("model_id") and (label := _model_label(made["model_id"])):
        if st.button(f"Open model {label}", key="open_home_model"):
            ui.open_model(made["model_id"])
    st.page_link("app_pages/jobs.py", label="All jobs", icon=":material/pending_actions:")

left, right = st.columns(2)
with left:
    st.subheader("Upload a model")
    model_file = st.file_uploader("Model file", type=["onnx", "keras", "h5", "tflite", "zip"], key=_uploader_key("model"),
                                  help="ONNX, Keras (.keras/.h5), TFLite, or a .zip holding a SavedModel "
                                       "or an ONNX model with external data.")
    model_name = st.text_input("Name", key="model_name", placeholder="defaults to the file name")
    if st.button("Import model", disabled=model_file is None, key="import_model"):
        with ui.shows_errors():
            staged = api.save_upload(model_file)
            name = model_name.strip() or Path(model_file.name).stem
            _queued("model", api.submit_import(upload=staged, name=name).id, Path(model_file.name).name, name)
with right:
    st.subheader("Upload a data set")
    data_file = st.file_uploader("Data file", type=["npz", "npy", "csv", "zip"], key=_uploader_key("data"),
                                 help="An .npz with x (and y for labels), a CSV, or a zip of images with "
                                      "labels.csv. Used for calibration, fine-tuning and evaluation.")
    data_name = st.text_input("Name", key="data_name", placeholder="defaults to the file name")
    label_column = st.text_input("Label column (CSV only)", key="label_column")
    image_models = [m for m in models if len(m["inputs"]) == 1 and len(m["inputs"][0]["shape"]) == 4]
    for_model = st.selectbox("Resize images for model (zip of images only)", [None, *image_models],
                             format_func=lambda m: "keep their size" if m is None else f"#{m['id']} {m['name']}",
                             key="images_for_model",
                             help="Images are resized to this model's input and laid out NHWC or NCHW to match.")
    if data_file is not None and data_file.name.lower().endswith(".npy"):
        st.error("A .npy file holds one array without labels; save x (and y) together as an .npz: "
                 "numpy.savez('data.npz', x=x, y=y).")
    if st.button("Import data set", disabled=data_file is None or data_file.name.lower().endswith(".npy"),
                 key="import_data"):
        with ui.shows_errors():
            staged = api.save_upload(data_file)
            name = data_name.strip() or Path(data_file.name).stem
            job = api.submit_dataset_import(upload=staged, name=name, label_column=label_column.strip() or None,
                                            for_model_id=for_model["id"] if for_model else None)
            _queued("data", job.id, Path(data_file.name).name, name)

