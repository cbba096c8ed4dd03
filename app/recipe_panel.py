"""The Optimize page's Recipe tab: save the passes that made a model as YAML, and run a recipe on a model."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import tables, ui
from engine import api
from engine.errors import EngineError


def render(models: list[dict[str, Any]]) -> None:
    newest_first = sorted(models, key=lambda m: -m["id"])
    save, run = st.columns(2)
    with save:
        _save(newest_first)
    with run:
        _run(newest_first)
    _last_run()


def _save(models: list[dict[str, Any]]) -> None:
    st.subheader("Save as recipe")
    derived = [m for m in models if m.get("parent_id") is not None]
    if not derived:
        st.info("No derived model yet: run a pass first, then save the passes that made it as a recipe.")
        return
    model = ui.pick_model("Derived model", derived, state_key="recipe_model_id",
                          default=st.session_state.get("model_id"),
                          help="The passes from its family's root to it become the recipe's steps.")
    try:
        text = api.recipe_for(model["id"])
    except EngineError as exc:
        st.error(str(exc))
        return
    st.code(text, language="yaml")
    left, right = st.columns(2)
    left.download_button("Download recipe", data=text, file_name=f"recipe-{model['id']}.yaml",
                         mime="application/x-yaml", icon=":material/download:", on_click="ignore",
                         key="recipe_download")
    right.button("Use it below", key="recipe_reuse", on_click=_reuse, args=(text,),
                 help="Copy this recipe into the box on the right to run it on another model.")


def _reuse(text: str) -> None:
    st.session_state["recipe_text"] = text  # a UI selection: what the text box shows


def _run(models: list[dict[str, Any]]) -> None:
    st.subheader("Run a recipe")
    upload = st.file_uploader("Recipe file", type=["yaml", "yml"], key="recipe_upload",
                              help="A recipe saved here or by `trimline recipe`; it wins over the box below.")
    st.session_state.setdefault("recipe_text", "")
    pasted = st.text_area("…or paste the recipe", key="recipe_text", height=180,
                          placeholder="name: int8\nsteps:\n  - pass: ort-quantize-dynamic\n    config: {}")
    by_id = {m["id"]: m for m in models}
    target = ui.pick("Run it on", list(by_id), "recipe_target_id", format_func=lambda i: tables.model_label(by_id[i]),
                     default=st.session_state.get("model_id"))
    data = {d["id"]: d for d in ui.datasets()}
    dataset_id = st.selectbox("Data set (if a step needs one)", [None, *data], key="recipe_dataset",
                              format_func=lambda i: "(none)" if i is None else tables.dataset_label(data[i]))
    text = upload.getvalue().decode("utf-8", errors="replace") if upload is not None else pasted
    # never disabled: a browser commits the text box on blur, so a button that waits for it misses the click
    if st.button("Run recipe", type="primary", icon=":material/play_arrow:", key="run_recipe"):
        with ui.shows_errors():
            st.session_state["recipe_job"] = api.submit_recipe(target, text, dataset_id).id
            ui.refresh()


def _last_run() -> None:
    job_id = st.session_state.get("recipe_job")
    if not job_id:
        return
    st.markdown("**Last recipe run**")
    finished = ui.watch_job(job_id)
    produced = ((finished or {}).get("result") or {}).get("model_ids") or []
    if finished and finished["status"] == "succeeded" and produced:
        by_id = {m["id"]: m for m in ui.models()}
        made = [by_id[i] for i in produced if i in by_id]
        st.dataframe(tables.models_table(made, set()), hide_index=True, key="recipe_models",
                     column_order=["id", "name", "format", "pass", "parent", "params", "FLOPs", "size"],
                     placeholder="—")
        if st.button(f"Open model #{produced[-1]}", key="open_recipe_model"):
            ui.open_model(produced[-1])
