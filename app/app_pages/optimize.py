"""Optimize: run one pass on a model (a settings form generated from the pass's config schema), or save
and run recipes (ordered passes as YAML)."""
from __future__ import annotations

import streamlit as st

from app import auto_panel, forms, recipe_panel, tables, ui
from engine import api

st.title("Optimize")
st.caption("Derive a new variant: convert (TF → ONNX/TFLite) or compress (quantize, fp16, graph optimization). "
           "Each run becomes a child in the model's lineage.")
everything = ui.models()
if not everything:
    ui.empty_state("No models to optimize yet.")
    st.stop()
pass_tab, recipe_tab, auto_tab = st.tabs(["Pass", "Recipe", "Auto"])


def one_pass() -> None:
    model = ui.pick_model("Model", sorted(everything, key=lambda m: -m["id"]))
    usable = [p for p in ui.passes() if model["format"] in p["accepts"]]
    if not usable:
        st.warning(f"No registered pass accepts {model['format']} models.")
        return
    by_name = {p["name"]: p for p in usable}
    name = ui.pick("Pass", list(by_name), "pass_name",
                   format_func=lambda n: f"{n} — {by_name[n]['kind']}, {model['format']} → {by_name[n]['produces']}")
    spec = by_name[name]
    st.info(spec["summary"])

    fields = forms.fields_from_schema(spec["config_schema"])
    wants = forms.data_requirement(spec)
    data, offered = ui.datasets_for("calibration", model)  # the sets this model can take come first
    with st.form(f"pass_form_{name}"):
        values = forms.render_fields(fields, key=f"cfg:{name}")
        dataset_id = None
        if wants != "no":
            choices = ([] if wants == "required" else [None]) + offered
            labels = "needs labels" if spec["needs"] == "labels" else "calibration/evaluation data"
            dataset_id = st.selectbox(f"Data set ({labels})" if wants == "required" else "Data set (only if a setting needs one)",
                                      choices, format_func=lambda i: "(none)" if i is None else tables.dataset_label(data[i]))
        if not fields:
            st.caption("This pass has no settings.")
        submitted = st.form_submit_button("Run pass", type="primary", icon=":material/play_arrow:")

    if wants == "required" and not data:
        st.warning("This pass needs a data set; upload one on Home (or load the demo, which brings its test set).")
    if submitted:
        with ui.shows_errors():
            submission = api.submit_optimize(model["id"], name, forms.to_config(fields, values), dataset_id)
            ui.refresh()
            if submission.existing_model_id is not None:
                st.session_state["optimize_existing"] = submission.existing_model_id
                st.session_state.pop("optimize_job", None)
            else:
                st.session_state["optimize_job"] = submission.job.id
                st.session_state.pop("optimize_existing", None)

    existing = st.session_state.get("optimize_existing")
    if existing:
        st.info(f"This exact derivation already exists as model #{existing}; nothing was queued.")
        if st.button(f"Open model #{existing}", key="open_existing"):
            ui.open_model(existing)
    job_id = st.session_state.get("optimize_job")
    if job_id:
        st.markdown("**Last run**")
        finished = ui.watch_job(job_id)
        if finished and (finished.get("result") or {}).get("model_id"):
            if st.button(f"Open model #{finished['result']['model_id']}", key="open_new"):
                ui.open_model(finished["result"]["model_id"])
        st.page_link("app_pages/jobs.py", label="See all jobs", icon=":material/pending_actions:")


with pass_tab:
    one_pass()
with recipe_tab:
    recipe_panel.render(everything)
with auto_tab:
    auto_panel.render(everything)
