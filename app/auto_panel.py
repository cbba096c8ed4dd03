"""The Optimize page's Auto tab: state a goal, follow the search live, take its recommendation."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import tables, ui
from engine import api

OBJECTIVES = {"latency": "Latency (p50 at the batch)", "throughput": "Throughput (items/s at the batch)",
              "size": "Size as shipped (compressed)"}
TARGETS = {None: "Let runtimes compete", "cpu": "This CPU", "onnxruntime": "ONNX Runtime only",
           "tflite": "TFLite only"}


def render(models: list[dict[str, Any]]) -> None:
    searchable = [m for m in sorted(models, key=lambda m: -m["id"]) if m["format"] in ("onnx", "keras", "savedmodel")]
    if not searchable:
        st.info("The search starts from ONNX, Keras or SavedModel models; import one on Home.")
        return
    model = _form(searchable)
    job_id = st.session_state.get("auto_job")
    if job_id is None or st.session_state.get("auto_job_model") != model["id"]:
        job_id = last_search(model["id"], model.get("root_id"))  # a reload (or another model) finds its search
    if job_id:
        _follow(job_id)


def last_search(model_id: int, root_id: int | None) -> int | None:
    """The newest search started from ``model_id``, if any (its job id)."""
    jobs, _ = api.find_jobs(kinds=["auto"], root_id=root_id or model_id, limit=50)
    return next((j["id"] for j in jobs if (j.get("params") or {}).get("model_id") == model_id), None)


def default_start(models: list[dict[str, Any]], family_id: int | None = None) -> int:
    """The model a search starts from unless the user picks another: the upload heading ``family_id`` (the
    family the user works in this session), else the newest upload, not the newest variant (after a search
    that is one of its candidates, an INT8 model nobody means to search from)."""
    roots = [m for m in models if not m.get("parent_id")]
    return next((m["id"] for m in roots if m["id"] == family_id), (roots or models)[0]["id"])


def _form(models: list[dict[str, Any]]) -> dict[str, Any]:
    # outside the form, so the data choices below follow the model as soon as it is picked
    model = ui.pick_model("Search from", models, state_key="auto_model_id",
                          default=default_start(models, st.session_state.get("family_id")))
    if st.session_state.get("auto_data_for") != model["id"]:  # another model: offer its data afresh
        for key in ("auto_dataset", "auto_eval"):
            st.session_state.pop(key, None)
        st.session_state["auto_data_for"] = model["id"]
    data, calibration = ui.datasets_for("calibration", model)
    _, evaluation = ui.datasets_for("evaluation", model)
    label = lambda i: "(none)" if i is None else tables.dataset_label(data[i])  # noqa: E731
    # the first offered set is the default when its role fits and the model can take it
    fits = lambda ids, role: 1 if ids and data[ids[0]].get("role") == role and not data[ids[0]]["misfit"] else 0  # noqa: E731
    if data and all(d["misfit"] for d in data.values()):
        st.caption(f"No data set fits this model ({next(iter(data.values()))['misfit']}): the search measures "
                   "speed only, unless you upload matching data on Home or calibrate on synthetic inputs.")
    with st.form("auto_form"):
        left, right = st.columns(2)
        dataset = left.selectbox("Calibration data", [None, *calibration], format_func=label, key="auto_dataset",
                                 index=fits(calibration, "calibration"),
                                 help="Calibrates INT8 and, without a held-out set, measures accuracy.")
        held_out = right.selectbox("Held-out data (accuracy)", [None, *evaluation], format_func=label,
                                   index=fits(evaluation, "evaluation"), key="auto_eval")
        objective = left.selectbox("Objective", list(OBJECTIVES), format_func=OBJECTIVES.get, key="auto_objective")
        target = right.selectbox("Runtime", list(TARGETS), format_func=TARGETS.get, key="auto_target")
        kind = left.radio("Accuracy budget", ["Most accuracy lost", "Least agreement with the parent"],
                          key="auto_budget_kind", horizontal=True)
        amount = right.number_input("Points lost (0.01 = one point)" if kind.startswith("Most") else
                                    "Top-1 agreement", min_value=0.0, max_value=1.0, key="auto_budget_value",
                                    value=0.01 if kind.startswith("Most") else 0.99, step=0.005, format="%.3f")
        batch = left.number_input("Batch", min_value=1, value=1, step=1, key="auto_batch")
        threads = right.number_input("Threads (0: this machine's cores)", min_value=0, value=0, step=1,
                                     key="auto_threads")
        budget = left.text_input("Time budget", value="5m", key="auto_time", help="e.g. 90s, 10m, 1h")
        synthetic = right.checkbox("No data: calibrate INT8 on synthetic inputs (no accuracy claimed)",
                                   key="auto_synthetic")
        go = st.form_submit_button("Search", type="primary", icon=":material/travel_explore:")
    if go:
        with ui.shows_errors():
            job = api.submit_auto(model_id=model["id"], dataset_id=dataset, eval_dataset_id=held_out,
                                  objective=objective, target=target, batch=int(batch),
                                  threads=int(threads) or None, budget=budget, synthetic_calibration=synthetic,
                                  max_accuracy_drop=amount if kind.startswith("Most") else None,
                                  min_fidelity=None if kind.startswith("Most") else amount)
            st.session_state["auto_job"], st.session_state["auto_job_model"] = job.id, model["id"]
            ui.refresh()
    return model


def candidate_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The live table: one row per candidate, latency with its CI, size, accuracy, verdict."""
    rows = []
    for c in view.get("candidates", []):
        ci = c.get("ci95_ms")
        latency = (f"{c['p50_ms']:.3f} ({ci[0]:.3f}–{ci[1]:.3f})" if c.get("p50_ms") is not None and ci
                   else (f"{c['p50_ms']:.3f}" if c.get("p50_ms") is not None else "–"))
        accuracy = c.get("accuracy") if c.get("accuracy") is not None else c.get("agreement")
        rows.append({"model": model_cell(c, view), "candidate": c.get("label"), "runtime": c.get("runtime"),
                     "status": c.get("status"), "p50 ms (95% CI)": latency,
                     "× parent": None if c.get("ratio") is None else round(c["ratio"], 3),
                     "size MB": None if not c.get("size_bytes") else round(c["size_bytes"] / 1e6, 3),
                     "compressed MB": None if not c.get("size_gzip_bytes") else round(c["size_gzip_bytes"] / 1e6, 3),
                     "accuracy": None if accuracy is None else round(accuracy, 4),
                     "verdict": form_words(c["reason"]) if c.get("reason") else c.get("reason")})
    return rows


def model_cell(c: dict[str, Any], view: dict[str, Any]) -> str:
    """The row's model as ``#12``; while the search runs, a model it built is stored only when it ends, so a
    node an earlier search stored shows its id (``known``) and one built now reads ``new``. ``–``: no model
    (skipped, or it failed before one was built)."""
    model_id = c.get("id")
    if model_id is None and c.get("key"):
        model_id = (view.get("known") or {}).get(c["key"])
    if model_id is None and not c.get("key") and (c.get("status") == "reference" or c.get("session_trial")):
        model_id = view.get("parent")  # the parent itself, timed as it is served
    if model_id is not None:
        return f"#{model_id}"
    return "new" if c.get("key") and view.get("live") else "–"


# the search's notes name its command-line flags; on this page the same choices are the form's fields
FLAG_WORDS = {"pass one with --dataset (or --synthetic-calibration for a latency-only search, with no accuracy "
              "claimed)": "choose Calibration data above (or tick “No data: calibrate INT8 on synthetic inputs” for "
                          "a latency-only search, with no accuracy claimed)",
              "pass --eval-dataset for a held-out figure": "choose Held-out data for a held-out figure",
              "--max-accuracy-drop or --min-fidelity": "Points lost or Top-1 agreement",
              "--target onnxruntime": "Runtime “ONNX Runtime only”", "--objective size": "the Size objective",
              "--eval-dataset": "Held-out data", "--dataset": "Calibration data",
              "--synthetic-calibration": "“No data: calibrate INT8 on synthetic inputs”"}


def form_words(note: str) -> str:
    """A search note as this page's form words it: the Calibration data field, not ``--dataset``."""
    for flag, words in FLAG_WORDS.items():  # the whole phrase first, then any flag left on its own
        note = note.replace(flag, words)
    return note


MODEL_HELP = "The model's id; “new”: built by this search, stored (and given an id) when the search ends."


def pareto_figure(view: dict[str, Any]):  # noqa: ANN201
    """Latency against size, coloured by accuracy; the Pareto front ringed."""
    import plotly.graph_objects as go

    front = set(view.get("pareto") or [])
    rows = [c for c in view.get("candidates", []) if c.get("p50_ms") is not None and c.get("size_bytes")
            and not c.get("session_trial")]  # a settings trial is its model under other settings, not a point
    fig = go.Figure()
    for on_front in (False, True):
        pick = [c for c in rows if (c.get("id") in front) == on_front]
        fig.add_scatter(x=[c["p50_ms"] for c in pick], y=[c["size_bytes"] / 1e6 for c in pick], mode="markers",
                        name="Pareto front" if on_front else "other candidates", text=[c["label"] for c in pick],
                        marker={"size": 14 if on_front else 9, "symbol": "circle-open" if on_front else "circle",
                                "line": {"width": 2}})
    chosen = [c for c in rows if c.get("id") == view.get("recommended") and c.get("id") is not None][:1]
    if chosen:  # which point the search recommends, without hovering each
        fig.add_scatter(x=[chosen[0]["p50_ms"]], y=[chosen[0]["size_bytes"] / 1e6], mode="markers+text",
                        name="recommended", text=[chosen[0]["label"]], textposition="top right",
                        marker={"size": 18, "symbol": "star", "color": "#d97706"})
    fig.update_layout(xaxis_title="p50 latency (ms)", yaxis_title="size (MB)", height=360,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Latency / size of every candidate")
    return fig


def _follow(job_id: int) -> None:
    view = api.auto_view(job_id)
    if view["live"] and view["status"] in ("queued", "running"):
        _live(job_id)
        return
    _outcome(view)


@ui.fragment(run_every=2.0)
def _live(job_id: int) -> None:
    view = api.auto_view(job_id)
    if not view["live"] or view["status"] not in ("queued", "running"):
        ui.refresh()
        st.rerun()
    left, mid, right = st.columns(3)
    left.metric("Current best", view.get("best") or "none yet")
    mid.metric("Time left", f"{view.get('time_left_s', 0):.0f} s" if "time_left_s" in view else "–")
    if right.button("Cancel (keeps what finished)", key="auto_cancel", icon=":material/stop:"):
        with ui.shows_errors():
            api.cancel_job(job_id)
    st.caption(view.get("message") or ("waiting for a worker" if view["status"] == "queued" else "running"))
    rows = candidate_rows(view)
    st.dataframe(rows, hide_index=True, key="auto_live_table", column_config=TABLE_COLUMNS, placeholder="—")
    _verdicts(rows)


def _outcome(view: dict[str, Any]) -> None:
    if view["status"] != "succeeded":
        st.warning(f"The search ended {view['status']}"
                   + (f": {view['error']}" if view.get("error") else "")
                   + (". What finished is kept below." if view.get("candidates") else "."))
    if not view.get("candidates"):
        return
    (st.warning if view.get("partial") else st.success)(
        form_words(view.get("explanation") or "No recommendation: the search stopped before it could choose."))
    for note in view.get("notes", []):
        st.caption(form_words(note))
    if view.get("settings"):
        st.caption("Deployment settings: " + ", ".join(f"{k} {v}" for k, v in view["settings"].items()))
    rec = view.get("recommended")
    champion = api.get_champion(api.get_model(rec).root_id) if rec is not None else None
    if champion is not None and champion.model_id == rec:  # the button stayed, as if it had not worked
        st.caption(f"★ Model #{rec} is its family's champion.")
    elif rec is not None and st.button(f"Make model #{rec} the champion", type="primary", key="auto_champion",
                                       icon=":material/trophy:"):
        with ui.shows_errors():
            api.set_champion(rec, note=form_words(view.get("explanation", "")))
            ui.remember_family(api.get_model(rec).root_id)  # Deploy and Download open on this champion's family
            ui.refresh()
            st.rerun()
    rows = candidate_rows(view)
    st.dataframe(rows, hide_index=True, key="auto_table", column_config=TABLE_COLUMNS, placeholder="—")
    _verdicts(rows)
    st.plotly_chart(pareto_figure(view), key="auto_pareto")


REJECTED = ("rejected", "failed", "skipped")
# a verdict is a sentence or two: in a table cell it is cut at the column's edge (st.dataframe does not wrap),
# so the table keeps a short preview and the whole sentence of each rejected candidate is listed under it
TABLE_COLUMNS = {"model": st.column_config.TextColumn(help=MODEL_HELP, width="small"),
                 "candidate": st.column_config.TextColumn(width="medium"),
                 "verdict": st.column_config.TextColumn(
                     width="medium", help="The start of the verdict; each rejected candidate's whole verdict is "
                                          "listed under the table.")}


def verdict_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One markdown line per rejected, failed or skipped candidate with its whole verdict, which wraps on the
    page: in the table it was cut off at the column's edge."""
    return [f"**{_plain_markdown(r['candidate'] or '?')}** ({r['status']}): "
            + _plain_markdown(r["verdict"] or "no reason was recorded.") for r in rows if r["status"] in REJECTED]


def _plain_markdown(text: str) -> str:
    """``text`` shown as written: a reason naming ``opt_level`` or ``$HOME`` is not italics or maths."""
    return "".join("\\" + ch if ch in "\\`*_[]<>$|~#" else ch for ch in str(text))


def _verdicts(rows: list[dict[str, Any]]) -> None:
    lines = verdict_lines(rows)
    if lines:
        st.markdown("**Why candidates were rejected**")
        st.markdown("\n".join(f"- {line}" for line in lines))
