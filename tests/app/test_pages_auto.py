"""The Auto tab: a goal is checked before queueing, the search is followed live (and can be cancelled), and
its recommendation, Pareto front, rejected candidates and champion button are shown at the end."""
from __future__ import annotations

import json
import re

from app.auto_panel import form_words
from engine import api
from tests.app.apphelp import by_label
from tests.app.conftest import run_job


def _auto_form(at):
    return [b for b in at.button if b.label == "Search"]


def test_auto_tab_refuses_a_bad_budget_with_a_sentence_and_queues_nothing(page, imported):
    at = page("optimize")
    assert [t.label for t in at.tabs] == ["Pass", "Recipe", "Auto"]
    at.text_input(key="auto_time").input("soon")
    _auto_form(at)[0].click().run()
    assert "budget 'soon' is not a duration" in " ".join(e.value for e in at.error)
    assert not [j for j in api.list_jobs() if j.kind == "auto"]


def test_auto_tab_follows_a_running_search_and_cancel_asks_it_to_stop(page, imported, home):
    from engine.jobs import service
    from storage import jobs as jobstore
    from storage.db import session_scope

    job = api.submit_auto(model_id=imported, budget="1m")
    with session_scope() as s:
        assert jobstore.claim(s, job.id, "test-worker")
        attempts = jobstore.get_job(s, job.id).attempts
    live = {"parent": imported, "best": "dynamic INT8 (weights)", "time_left_s": 42.0,
            "candidates": [{"id": None, "label": "parent", "status": "reference", "p50_ms": 0.02,
                            "ci95_ms": [0.019, 0.021], "ratio": 1.0, "size_bytes": 1000, "reason": ""},
                           {"id": None, "label": "dynamic INT8 (weights)", "status": "accepted", "p50_ms": 0.015,
                            "ci95_ms": [0.014, 0.016], "ratio": 0.75, "size_bytes": 600, "reason": "within budget",
                            "key": "built-now"},
                           {"id": None, "label": "float16", "status": "rejected", "p50_ms": 0.03, "ratio": 1.5,
                            "reason": LONG_REASON, "key": "stored-before"},
                           {"id": None, "label": "static INT8", "status": "skipped", "reason": "skipped: no data"}],
            "known": {"stored-before": imported + 5}}  # a node an earlier search stored
    scratch = api.settings().scratch_dir / f"job-{job.id}-{attempts}"
    scratch.mkdir(parents=True)
    (scratch / "live.json").write_text(json.dumps(live))
    at = page("optimize", auto_job=job.id)
    assert by_label(at.metric, "Current best").value == "dynamic INT8 (weights)"
    assert by_label(at.metric, "Time left").value == "42 s"
    (frame,) = at.dataframe
    table = frame.value
    assert list(table["candidate"]) == ["parent", "dynamic INT8 (weights)", "float16", "static INT8"]
    assert list(table["model"]) == [f"#{imported}", "new", f"#{imported + 5}", "–"]  # ids before the commit
    assert table["p50 ms (95% CI)"][1] == "0.015 (0.014–0.016)"
    _every_rejection_reads_whole(at, [("float16", LONG_REASON), ("static INT8", "skipped: no data")])
    at.button(key="auto_cancel").click().run()
    assert service.get(job.id).status == "running"
    with session_scope() as s:
        assert jobstore.heartbeat(s, job.id, "test-worker")  # the worker is told to stop


# a verdict as long as the search writes them: in a table cell it was cut off at 1400 px
LONG_REASON = ("rejected: 1.50× the parent's p50 latency (95% CI 1.41–1.58), slower beyond the noise at batch 1 "
               "with 4 threads on onnxruntime, and its top-1 agreement with the parent (97.2%) is under the budget of "
               "99.0%, so it is neither faster nor within the accuracy budget")


def _every_rejection_reads_whole(at, reasons: list[tuple[str, str]]) -> None:
    """Each rejected, failed or skipped candidate's whole verdict is in wrapping text on the page (a table
    cell does not wrap), after its name, and the tables give the verdict a bounded width."""
    listed = [m.value for m in at.markdown if m.value.startswith("- **")]
    assert len(listed) == 1, [m.value for m in at.markdown]
    items = listed[0].split("\n")
    assert len(items) == len(reasons), items
    for item, (label, reason) in zip(items, reasons):
        shown = item.replace("\\", "")  # the markdown escapes (a reason's * or _ is shown as written)
        assert shown.startswith(f"- **{label}** (") and shown.endswith(f"): {reason}"), (item, reason)
    for frame in at.dataframe:
        assert json.loads(frame.proto.columns)["verdict"]["width"] == "medium"


def test_auto_tab_shows_the_recommendation_front_and_rejections_and_makes_a_champion(page, imported):
    job = run_job(api.submit_auto(model_id=imported, budget="40s", target="onnxruntime").id)
    result = job.result
    assert result["candidates"] and result["explanation"].startswith("Recommended")
    at = page("optimize", auto_job=job.id)
    assert not at.exception
    assert form_words(result["explanation"]) in [s.value for s in at.success] + [w.value for w in at.warning]
    (note,) = [c.value for c in at.caption if "A data set would add static INT8" in c.value]
    assert "choose Calibration data above (or tick “No data: calibrate INT8 on synthetic inputs”" in note
    assert "--" not in note  # the command line's flags are the CLI's words, not this form's
    table = at.dataframe[0].value
    assert len(table) == len(result["candidates"]) and table["status"][0] == "reference"
    assert len(at.get("plotly_chart")) == 1
    rejected = [c for c in result["candidates"] if c["status"] in ("rejected", "failed", "skipped")]
    assert rejected, result["candidates"]  # without data, static INT8 is skipped: there is a reason to read
    said = [(c["label"], form_words(c["reason"]) if c["reason"] else "no reason was recorded.") for c in rejected]
    _every_rejection_reads_whole(at, said)
    assert len(at.dataframe) == 1  # the verdicts are no longer a second table cut off at its edge
    at.button(key="auto_champion").click().run()
    assert api.get_champion(api.get_model(imported).root_id).model_id == result["recommended"]
    assert f"★ Model #{result['recommended']} is its family's champion." in [c.value for c in at.caption]
    assert not [b for b in at.button if b.key == "auto_champion"]  # done: no button asking again
    # a reload (a new session) starts from the upload, not the newest candidate, and finds its search
    at = page("optimize")
    assert by_label(at.selectbox, "Search from").value == imported
    assert len(api.list_models()) > 1 and max(m.id for m in api.list_models()) != imported
    assert form_words(result["explanation"]) in [s.value for s in at.success] + [w.value for w in at.warning]
    assert len(at.dataframe[0].value) == len(result["candidates"])
    _timings_are_benchmarks_until_a_benchmark_job(page, imported, job.id, result)


def _timings_are_benchmarks_until_a_benchmark_job(page, root: int, job_id: int, result: dict) -> None:
    """What the search timed is each model's benchmark (from the search's own runs, saying which search), so
    Compare and the Models page show the recommendation's latency; a benchmark job run later is the latest."""
    import pytest

    timed = [c for c in result["candidates"] if c["id"] is not None and c["p50_ms"] is not None
             and not c["session_trial"]]
    latest = api.latest_benchmarks([c["id"] for c in timed])
    assert set(latest) == {c["id"] for c in timed}
    for c in timed:
        summary = latest[c["id"]]
        assert summary["source"] == "auto" and summary["search"]["job_id"] == job_id, summary
        (cell,) = summary["results"]
        assert cell["latency_ms"]["p50"] == pytest.approx(c["p50_ms"], rel=1e-12)  # the same runs the search judged
        assert cell["latency_ms"]["p50"] <= cell["latency_ms"]["p99"] and cell["runs"] >= 30
        assert (cell["batch"], cell["threads"]) == (c["settings"]["batch"], c["settings"]["threads"])
    overview = {r["id"]: r for r in api.family_overview(root)}
    for c in timed:  # a screening figure (one shared pool) is not divided by a finals' one as like with like
        same = latest[c["id"]]["search"]["method"] == latest[root]["search"]["method"]
        assert overview[c["id"]]["ratio_basis"] == ("like with like" if same else "different settings")
    rec = result["recommended"]
    method = latest[rec]["search"]["method"]
    assert method in ("final round-robin", "screening A/B")
    if any(c["status"] == "recommended" for c in timed) and not result["partial"]:
        assert method == "final round-robin"  # a recommendation is a finalist: its figure is the finals'
    said = f"timed by the search (job #{job_id}, {method}"
    at = page("compare")
    assert any(said in c.value for c in at.caption), [c.value for c in at.caption]
    unmeasured = " ".join(w.value for w in at.warning if "no benchmark yet" in w.value)  # only untimed ones
    assert not [c["id"] for c in timed if f"#{c['id']}," in unmeasured or f"#{c['id']}." in unmeasured], unmeasured
    at = page("models", model_id=rec, family_id=root, tab="Measurements")
    assert any(c.value.startswith(f"Timed by the search (job #{job_id}, {method}") for c in at.caption)

    # a child's benchmark is explained against its parent's latest figure unless that one is a screening A/B's
    # (one shared thread pool: not like with like); every ONNX search builds the graph-optimized node first
    child = next(m.id for m in api.list_models() if m.parent_id in latest)
    parent_id = api.get_model(child).parent_id
    explained = run_job(api.submit_benchmark(child, {"batches": [1], "threads": [1], "time_budget_s": 0.2,
                                                     "min_time_s": 0.1, "profile": False}).id).result
    screened = latest[parent_id]["search"]["method"] == "screening A/B"
    assert (api.latest_benchmarks([child])[child].get("compared_with") is None) == screened, explained

    bench = run_job(api.submit_benchmark(rec, {"batches": [1], "threads": [1], "time_budget_s": 0.2,
                                               "min_time_s": 0.1, "profile": False}).id)
    assert bench.status == "succeeded"
    newest = api.latest_benchmarks([rec])[rec]
    assert "source" not in newest and newest["results"][0]["latency_ms"]["p50"] == bench.result["results"][0][
        "latency_ms"]["p50"]
    at = page("compare")
    lines = {int(i): c.value for c in at.caption if c.value.startswith("Latency of ")
             for i in re.findall(r"#(\d+)", c.value.split(":")[0])}
    assert "timed by the search" not in lines[rec], lines  # the benchmark job's figure, now the latest
    assert rec == root or f"timed by the search (job #{job_id}" in lines[root], lines  # the others stay the search's


def test_pareto_figure_plots_each_model_once_and_not_its_session_settings_trials():
    from app.auto_panel import pareto_figure

    view = {"pareto": [2], "candidates": [
        {"id": 2, "label": "parent", "p50_ms": 1.0, "size_bytes": 1000},
        {"id": 3, "label": "int8", "p50_ms": 2.0, "size_bytes": 500},
        {"id": 2, "label": "parent · parallel execution, opt level all", "p50_ms": 7.5, "size_bytes": 1000,
         "session_trial": True}]}
    points = {(x, t) for trace in pareto_figure(view).data for x, t in zip(trace.x, trace.text)}
    assert points == {(1.0, "parent"), (2.0, "int8")}
    starred = pareto_figure({**view, "recommended": 3})
    (star,) = [t for t in starred.data if t.name == "recommended"]
    assert list(star.x) == [2.0] and list(star.text) == ["int8"] and star.marker.symbol == "star"


def test_forms_offer_the_calibration_split_to_calibrate_and_the_held_out_split_to_measure(page, home, imported):
    """With the demo's two splits, no one has to choose: calibrating on the held-out split (and then
    measuring on it) would be the mistake the data roles exist to prevent."""
    import numpy as np

    ids = {}
    for name, role in (("held", "evaluation"), ("train", "calibration"), ("other", None)):
        np.savez(home.parent / f"{name}.npz", x=np.zeros((4, 4), np.float32), y=np.zeros(4, np.int64))
        ids[name] = run_job(api.submit_dataset_import(home.parent / f"{name}.npz", name=name).id).result["dataset_id"]
        if role:
            api.set_dataset_role(ids[name], role)
    at = page("optimize")
    assert at.selectbox(key="auto_dataset").value == ids["train"]
    assert at.selectbox(key="auto_eval").value == ids["held"]
    at = page("optimize", pass_name="ort-quantize-static")
    assert by_label(at.selectbox, "Data set (calibration/evaluation data)").value == ids["train"]


def test_forms_offer_data_the_model_can_take_first_and_never_default_to_data_it_cannot(page, home, imported):
    """The demo's 8×8 digits offered to an uploaded 224×224 model made every search and evaluation from it fail
    on the data; the forms now put the sets that fit first and say when none does."""
    import numpy as np

    np.savez(home.parent / "images.npz", x=np.zeros((4, 8, 8, 1), np.float32), y=np.zeros(4, np.int64))
    images = run_job(api.submit_dataset_import(home.parent / "images.npz", name="images").id).result["dataset_id"]
    api.set_dataset_role(images, "calibration")
    at = page("optimize")
    assert at.selectbox(key="auto_dataset").value is None  # the only calibration set does not fit x[N, 4]
    assert any(c.value.startswith("No data set fits this model (each sample of the data set has shape [8, 8, 1]")
               for c in at.caption)
    at = page("models", model_id=imported, family_id=imported)
    assert any(c.value.startswith("No data set fits this model yet (each sample") for c in at.caption)
    assert by_label(at.button, "Evaluate").disabled  # a click could only fail on the data

    np.savez(home.parent / "rows.npz", x=np.zeros((4, 4), np.float32), y=np.zeros(4, np.int64))
    rows = run_job(api.submit_dataset_import(home.parent / "rows.npz", name="rows").id).result["dataset_id"]
    api.set_dataset_role(rows, "calibration")
    at = page("optimize")
    assert at.selectbox(key="auto_dataset").value == rows and at.selectbox(key="auto_dataset").options[1:] == \
        [f"#{rows} rows (4 samples, labelled, calibration)", f"#{images} images (4 samples, labelled, calibration)"]
    assert not any(c.value.startswith("No data set fits") for c in at.caption)
    at = page("models", model_id=imported, family_id=imported)
    assert by_label(at.selectbox, "Data set").value == rows and not by_label(at.button, "Evaluate").disabled


def test_candidates_calibrated_on_the_search_data_record_it_and_the_data_sets_page_lists_them(page, home, imported):
    """A search's INT8 models were calibrated on its data set, as a manual pass run is: they record it, so the
    Data sets page names them and an accuracy later measured on that set is flagged as not held-out."""
    import numpy as np

    np.savez(home.parent / "calib.npz", x=np.random.default_rng(0).random((32, 4), np.float32),
             y=np.zeros(32, np.int64))
    calib = run_job(api.submit_dataset_import(home.parent / "calib.npz", name="calib").id).result["dataset_id"]
    job = run_job(api.submit_auto(model_id=imported, dataset_id=calib, budget="40s", target="onnxruntime").id)
    stored = [api.get_model(c["id"]) for c in job.result["candidates"] if c["id"] not in (None, imported)]
    calibrated = [m.id for m in stored if m.pass_name == "ort-quantize-static"]
    assert calibrated, [(m.id, m.pass_name) for m in stored]
    for m in stored:
        used = (m.metrics or {}).get("trained_on_dataset")
        assert (used or {}).get("id") == (calib if m.pass_name == "ort-quantize-static" else None), (m.pass_name, used)
    at = page("datasets")
    table = at.dataframe[0].value
    listed = table.loc[table["id"] == calib, "calibrated / fine-tuned"].iloc[0]
    assert {int(i) for i in listed.replace("#", "").split(", ")} >= set(calibrated)


def test_search_notes_name_the_forms_fields_not_the_command_lines_flags():
    from engine.auto.space import without_data_adds

    note = form_words(without_data_adds("keras"))
    assert note.endswith("choose Calibration data above (or tick “No data: calibrate INT8 on synthetic inputs” for a "
                         "latency-only search, with no accuracy claimed).")
    relax = form_words(" Relax the accuracy budget (--max-accuracy-drop or --min-fidelity), or give labelled data")
    assert relax == " Relax the accuracy budget (Points lost or Top-1 agreement), or give labelled data"
    held = form_words("Accuracy was measured on the calibration data; pass --eval-dataset for a held-out figure.")
    assert held == "Accuracy was measured on the calibration data; choose Held-out data for a held-out figure."

