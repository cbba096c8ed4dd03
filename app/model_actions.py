"""Actions on one model (Models page): benchmark, evaluate, mark champion, optimize."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from app import forms, tables, ui
from engine import api

# The benchmark form's fields, in this order, with labels that read better than the schema's titles.
BENCH_LABELS = {"batches": "Batch sizes", "threads": "Threads", "runtime": "Runtime",
                "opt_levels": "ORT graph optimization", "time_budget_s": "Seconds per configuration",
                "concurrency": "Concurrent clients (load test)", "profile": "Per-operator profile"}
ORT_ONLY = {"opt_levels", "profile"}


def render(doc: dict[str, Any]) -> None:
    if not ui.can("engineer"):
        ui.viewer_note()
        return
    bench, evaluate, champion = st.columns(3)
    with bench:
        _benchmark_form(doc)
    with evaluate:
        _evaluate_form(doc)
    with champion:
        _champion_form(doc)
    if st.button("Optimize this model", icon=":material/tune:", key="to_optimize"):
        st.session_state["model_id"] = doc["id"]
        st.switch_page("app_pages/optimize.py")
    job_id = st.session_state.get("model_job")
    if job_id and st.session_state.get("model_job_for") == doc["id"]:  # another model's job stays with it
        finished = ui.watch_job(job_id)
        if finished and finished["status"] == "succeeded" and finished["kind"] in ("benchmark", "evaluate") \
                and st.session_state.get("tab") != "Measurements":
            st.button("See its figures on the Measurements tab", icon=":material/arrow_upward:", key="to_measurements",
                      on_click=_open_tab, args=("Measurements",))


def _open_tab(name: str) -> None:
    st.session_state["tab"] = name  # the detail panel's tabs (bound to ?tab=) open there on the rerun


def benchmark_fields(schema: dict[str, Any], model_format: str, runtimes: list[str]) -> list[forms.FieldSpec]:
    """The benchmark form's fields from ``BenchmarkConfig``'s schema: only the runtimes that run this format
    (its own first), ONNX Runtime options for ONNX models only, and the profile on by default for them
    (it is what explains a slow quantized variant)."""
    by_name = {f.name: f for f in forms.fields_from_schema(schema)}
    fields = []
    for name, label in BENCH_LABELS.items():
        if name not in by_name or (name in ORT_ONLY and model_format != "onnx"):
            continue
        spec = replace(by_name[name], label=label)
        if name == "runtime":
            spec = replace(spec, options=tuple(runtimes), default=runtimes[0] if runtimes else None, nullable=False)
        elif name == "profile":
            spec = replace(spec, default=True)
        elif name == "time_budget_s":
            spec = replace(spec, step=0.5)
        fields.append(spec)
    return fields


def _benchmark_form(doc: dict[str, Any]) -> None:
    fields = benchmark_fields(api.benchmark_schema(), doc["format"], api.benchmark_runtimes(doc["format"]))
    with st.form(f"bench_{doc['id']}", border=True):
        st.markdown("**Benchmark**")
        values = forms.render_fields(fields, key=f"bench:{doc['id']}")
        sizes = _input_sizes(doc)
        if st.form_submit_button("Benchmark", type="primary"):
            with ui.shows_errors():
                config = forms.to_config(fields, values) | ({"dim_values": sizes} if sizes else {})
                st.session_state["model_job"] = api.submit_benchmark(doc["id"], config).id
                st.session_state["model_job_for"] = doc["id"]


def _input_sizes(doc: dict[str, Any]) -> dict[str, int]:
    """A size for each dimension the model's inputs leave open besides the batch (a Keras image model saved
    without an input shape takes any height and width): the benchmark times it at these."""
    sizes = {}
    for d in api.dynamic_dims(doc.get("inputs") or []):
        named = "" if d["key"].startswith(f"{d['input']}:") else f"{d['key']}, "
        sizes[d["key"]] = int(st.number_input(
            f"Input size: {d['input']} [{named}dimension {d['position']}]", min_value=1, max_value=1 << 16,
            value=d["default"], key=f"bench:{doc['id']}:dim:{d['key']}",
            help="The model leaves this size open; the benchmark generates inputs of this size."))
    return sizes


def _evaluate_form(doc: dict[str, Any]) -> None:
    with st.form(f"eval_{doc['id']}", border=True):
        st.markdown("**Evaluate**")
        by_id, data = ui.datasets_for("evaluation", doc)  # the sets this model can take come first
        dataset_id = st.selectbox("Data set", data, format_func=lambda i: tables.dataset_label(by_id[i]),
                                  help="Accuracy on its labels, and agreement with the parent model.")
        fits = bool(data) and not by_id[data[0]]["misfit"]  # the sets that fit come first: none fits when it misfits
        if st.form_submit_button("Evaluate", disabled=not fits):
            with ui.shows_errors():
                st.session_state["model_job"] = api.submit_evaluate(doc["id"], dataset_id).id
                st.session_state["model_job_for"] = doc["id"]
        if not data:
            st.caption("Upload a data set on Home first.")
        elif by_id[data[0]]["misfit"]:
            st.caption(f"No data set fits this model yet ({by_id[data[0]]['misfit']}); upload one on Home.")


def _champion_form(doc: dict[str, Any]) -> None:
    with st.form(f"champ_{doc['id']}", border=True):
        st.markdown("**Champion**")
        if doc.get("champion"):
            st.caption("This model is its family's champion.")
        note = st.text_input("Why this one", placeholder="e.g. 3× faster, accuracy within 0.2%")
        if st.form_submit_button("Mark as champion", disabled=bool(doc.get("champion"))):
            with ui.shows_errors():
                api.set_champion(doc["id"], note, who=st.session_state.get("user"))
                ui.refresh()
                st.rerun()


def catalogue_form(doc: dict[str, Any]) -> None:
    """Rename, tag or archive the model; admins may also delete it (`trimline rm` on the command line)."""
    if not ui.can("engineer"):
        return
    with st.expander("Name, tags, archive"):
        with st.form(f"tidy_{doc['id']}"):
            name = st.text_input("Name", value=doc["name"], key=f"name_{doc['id']}")
            tags = st.text_input("Tags (comma-separated)", value=", ".join(doc.get("tags") or []), key=f"tags_{doc['id']}")
            archived = st.checkbox("Archived (hidden from pickers, kept with its files)", value=bool(doc.get("archived")),
                                   key=f"archived_{doc['id']}")
            if st.form_submit_button("Save"):
                with ui.shows_errors():
                    wanted = {t.strip() for t in tags.split(",") if t.strip()}
                    if name.strip() != doc["name"]:
                        api.rename_model(doc["id"], name, who=st.session_state.get("user"))
                    api.tag_model(doc["id"], sorted(wanted), sorted(set(doc.get("tags") or []) - wanted))
                    if archived != bool(doc.get("archived")):
                        api.archive_model(doc["id"], archived, who=st.session_state.get("user"))
                    ui.refresh()
                    st.rerun()
    if ui.can("admin"):
        _delete_form(doc)


def _delete_form(doc: dict[str, Any]) -> None:
    with st.expander("Delete"):
        with st.form(f"delete_{doc['id']}"):
            st.caption("Deletes the model, its measurements and its file when nothing else uses it. A model with "
                       "derived models cannot be deleted (archive it instead). Its champion history stays.")
            sure = st.checkbox(f"Yes, delete #{doc['id']} {doc['name']}", key=f"delete_sure_{doc['id']}")
            if st.form_submit_button("Delete model", type="primary"):
                if not sure:
                    st.error("Tick the box to confirm first.")
                    return
                with ui.shows_errors():
                    api.delete_model(doc["id"])
                    for key in ("model_id", "family_id"):
                        if st.session_state.get(key) == doc["id"]:
                            del st.session_state[key]
                    st.query_params.pop("model", None)
                    ui.refresh()
                    st.toast(f"Model #{doc['id']} deleted.")
                    st.rerun()
