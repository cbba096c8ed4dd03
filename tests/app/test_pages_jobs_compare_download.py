"""Jobs, Compare and Download pages against real jobs run through the sandboxed runner."""
from __future__ import annotations

import json

import pytest

from app import tables
from engine import api
from engine.errors import JobFailedError
from engine.jobs import service
from tests.app.apphelp import by_label, plotly_count
from tests.app.conftest import run_job, write_tiny_onnx


def test_jobs_page_shows_a_failed_jobs_error_sentence(page, home, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a model at all")
    job = api.submit_import(bad, name="bad")
    with pytest.raises(JobFailedError):
        run_job(job.id)
    failed = service.get(job.id)
    assert failed.status == "failed" and failed.error
    at = page("jobs")
    table = at.dataframe[0].value
    assert list(table["status"]) == ["failed"] and list(table["error"]) == [failed.error]
    assert [e.value for e in at.error] == [failed.error]
    assert at.subheader[0].value == f"Job #{job.id} · import · failed"
    assert "Cancel job" not in [b.label for b in at.button]


def test_jobs_page_cancels_a_queued_job(page, imported):
    job = api.submit_benchmark(imported, {"batches": [1], "threads": [1]})
    at = page("jobs")
    assert at.subheader[0].value == f"Job #{job.id} · benchmark · queued"
    by_label(at.button, "Cancel job").click().run()
    assert not at.exception
    after = service.get(job.id)
    assert after.cancel_requested or after.status == "cancelled"


def test_jobs_page_lists_live_workers_with_their_labels_and_job(page, home):
    from storage import workers as registry
    from storage.db import session_scope

    api.ready()
    job = api.submit_import(write_tiny_onnx(home.parent / "t.onnx"))
    with session_scope() as s:
        registry.register(s, "edge-box:41:ab12cd", 41, "edge-box", ["edge", "arm"], "f" * 64, {}, None)
    with session_scope() as s:  # the worker has claimed the job
        from storage import jobs as jobstore

        assert jobstore.claim(s, job.id, "edge-box:41:ab12cd")
    at = page("jobs")
    workers = at.dataframe[1].value
    assert list(workers["host"]) == ["edge-box"] and list(workers["labels"]) == ["edge, arm"]
    assert list(workers["job"]) == [f"#{job.id}"] and list(workers["fingerprint"]) == ["f" * 12]
    assert list(at.dataframe[0].value["worker"]) == ["edge-box:41:ab12cd"]


def test_jobs_page_shows_progress_and_log_of_a_finished_job(page, imported):
    at = page("jobs")
    assert at.get("progress")[0].proto.value == 100
    assert "succeeded: model #" in at.success[0].value
    at.button(key=f"job_model_{at.session_state['job_id']}").click().run()  # to the model the job made
    assert at.session_state["model_id"] == imported
    assert [h.value for h in at.subheader if h.value.startswith(f"#{imported} ")]


def _family(imported):
    """The tiny model, a quantized child, both benchmarked."""
    child = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    for model_id in (imported, child):
        run_job(api.submit_benchmark(model_id, {"batches": [1], "threads": [1], "time_budget_s": 0.2}).id)
    return child


def test_compare_page_draws_charts_table_and_sets_champion(page, imported):
    child = _family(imported)
    at = page("compare")
    assert plotly_count(at) == 4  # trade-off, latency bars, roofline per variant, op histograms side by side
    roofline = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert roofline["data"][0]["x"] == [f"#{imported} root", f"#{child} ort-quantize-dynamic"]
    latest = api.latest_benchmarks([imported, child])
    assert roofline["data"][0]["y"] == [latest[m]["roofline"][0]["achieved_gflops"] for m in (imported, child)]
    texts = roofline["data"][0]["text"]
    assert texts[0].endswith("% of peak") and texts[1].endswith("% of FP32 peak (integer work)")
    table = at.dataframe[0].value
    assert list(table["id"]) == [imported, child]
    assert list(table["latency × root"])[0] == 1.0 and list(table["size × root"])[0] == 1.0
    assert set(table["Pareto"]) <= {"✓", ""} and "✓" in set(table["Pareto"])
    assert not [w for w in at.warning if "no benchmark yet" in w.value]
    side = next(d.value for d in at.dataframe if "figure" in d.value.columns)
    assert "onnxruntime · batch 1 · 1 thread(s)" in side[f"#{child} ort-quantize-dynamic · onnx"][7]
    by_label(at.selectbox, "Champion of this family").set_value(child)
    by_label(at.text_input, "Note").input("smaller")
    by_label(at.button, "Mark as champion").click().run()
    assert api.get_champion(imported).model_id == child
    assert list(at.dataframe[0].value["champion"]) == ["", "★"]
    record = api.get_champion(imported)
    assert (record.model_id, record.note) == (child, "smaller")
    (shown,) = [s.value for s in at.success if s.value.startswith("Champion: ")]
    assert shown == f"Champion: #{child} ort-quantize-dynamic · onnx — “smaller” (chosen " \
        f"{record.chosen_at:%Y-%m-%d %H:%M} UTC)"
    at.button(key="prepare_report").click().run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download report.html", "Download measurements.csv"]
    (event,) = api.champion_history(imported)
    assert (event["action"], event["model_id"], event["note"]) == ("promote", child, "smaller")
    assert event["figures"]["latency_p50_ms"] == next(r for r in api.family_overview(imported)
                                                      if r["id"] == child)["latency_p50_ms"]


def test_compare_page_offers_to_benchmark_unmeasured_variants(page, imported):
    at = page("compare")
    assert at.warning[0].value == f"1 of 1 variants have no benchmark yet: #{imported}."
    assert plotly_count(at) == 0
    at.button(key="bench_missing").click().run()
    newest = api.list_jobs()[0]
    assert (newest.kind, newest.params["model_id"]) == ("benchmark", imported)


def test_compare_page_benchmarks_unmeasured_variants_at_the_setting_the_others_were_timed_at(page, imported):
    child = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    run_job(api.submit_benchmark(child, {"batches": [1], "threads": [2], "time_budget_s": 0.2}).id)
    at = page("compare")
    assert f"1 of 2 variants have no benchmark yet: #{imported}." in [w.value for w in at.warning]
    button = at.button(key="bench_missing")
    assert button.label == "Benchmark them (batch 1, 2 threads)"
    button.click().run()
    newest = api.list_jobs()[0]
    assert newest.params["model_id"] == imported
    assert (newest.params["config"]["batches"], newest.params["config"]["threads"]) == ([1], [2])


def test_download_page_offers_valid_formats_and_a_download_after_export(page, imported):
    at = page("download")
    assert at.radio(key="export_target").options[0].startswith("onnx")
    assert [o.split(" — ")[0] for o in at.radio(key="export_target").options] == api.export_targets("onnx")
    at.button(key="export").click().run()
    job = api.list_jobs()[0]
    assert job.kind == "export" and job.params == {"model_id": imported, "format": "onnx", "deployment": None,
                                                  "ensemble": False}
    run_job(job.id)
    at.run()
    assert not at.exception
    buttons = at.get("download_button")
    assert len(buttons) == 1 and buttons[0].proto.label == "Download tiny.onnx"
    assert api.export_path(service.get(job.id)).read_bytes() == api.model_path(imported).read_bytes()


def test_download_page_preselects_the_champion(page, imported, tmp_path):
    second = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    api.set_champion(second, "quantized")
    at = page("download")
    assert by_label(at.selectbox, "Model").value == second
    figures = {m.label: m.value for m in at.metric}  # what is being downloaded, before any export
    assert figures["Size"] == tables.human_bytes(api.show_model(second)["size_bytes"])
    assert figures["Latency p50"] == "—" and figures["Accuracy"] == "—" and "Top-1 agreement with parent" in figures
    run_job(api.submit_benchmark(second, {"batches": [1], "threads": [1], "warmup": 2, "min_runs": 10,
                                          "max_runs": 100, "time_budget_s": 0.2}).id)
    at = page("download")
    p50 = api.family_overview(imported, model_ids=[second])[0]["latency_p50_ms"]
    assert {m.label: m.value for m in at.metric}["Latency p50"] == f"{p50:.3g} ms"
    record = api.get_champion(imported)
    assert f"★ This is the family's champion — “quantized” (chosen {record.chosen_at:%Y-%m-%d %H:%M} UTC)" \
        in [c.value for c in at.caption]
    by_label(at.selectbox, "Model").set_value(imported).run()
    assert f"The family's champion is #{second} tiny · ort-quantize-dynamic · onnx — “quantized” (chosen " \
        f"{record.chosen_at:%Y-%m-%d %H:%M} UTC)" in [c.value for c in at.caption]
    other = write_tiny_onnx(tmp_path / "other.onnx", seed=1)
    run_job(api.submit_import(other, name="other").id)
    at = page("download")
    assert [o for o in by_label(at.selectbox, "Model family").options] == ["#3 other", f"#{imported} tiny"]
