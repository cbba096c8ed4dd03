"""Deploy page: start a managed server, try it, load-test it, promote a version, move a label, stop — for real."""
from __future__ import annotations

import json
import time

import pytest

from engine import api
from engine.serving.server import free_port
from tests.app.apphelp import by_label, plotly_count
from tests.servers import Workers


def test_deploy_page_without_models_points_to_home(page):
    at = page("deploy")
    assert "Nothing to serve yet." in [i.value for i in at.info]


def _wait_for(name: str, state: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = api.serving.server_status(name)
        if status and status["state"] == state:
            return status
        time.sleep(0.3)
    raise AssertionError(f"the server never became {state}: {status}")


@pytest.fixture()
def worker(home):
    """A real worker process on this home (load tests run on it)."""
    workers = Workers()
    try:
        yield workers.start(home)
    finally:
        workers.stop()


def _wait_for_job(job_id: int, status: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while api.get_job(job_id).status != status:
        assert time.monotonic() < deadline, f"job {job_id} never became {status}: {api.get_job(job_id).status}"
        time.sleep(0.1)


def test_deploy_page_serves_tries_loadtests_promotes_and_stops(page, imported, worker, home):
    name = api.serving.family_name(imported)
    at = page("deploy")
    assert at.subheader[0].value == f"Serve '{name}'"
    port = free_port()
    at.number_input(key="deploy_port").set_value(port)
    assert at.number_input(key="deploy_memory").value == api.serving.server_memory_mb()  # half the machine's
    at.number_input(key="deploy_memory").set_value(3072)
    by_label(at.button, "Start serving").click().run()
    assert not at.exception, [e.value for e in at.exception]
    try:
        status = _wait_for(name, "ready")
        assert status["url"] == f"http://127.0.0.1:{port}" and status["memory_mb"] == 3072
        at = page("deploy")  # a fresh session (a page reload) finds the running server
        assert at.subheader[0].value == f"'{name}' · ready at http://127.0.0.1:{port}"
        memory = [m.value for m in at.metric if m.label == "RSS MB / limit"]
        assert len(memory) == 1 and memory[0].endswith(" / 3072"), memory
        shown = [c.value for c in at.caption if c.value.startswith("Sandbox: ")] + \
                [w.value for w in at.warning if w.value.startswith("Sandbox: ")]
        assert shown == [f"Sandbox: {status['sandbox']}"] and "landlock: " in shown[0]
        assert list(at.dataframe[0].value["version"]) == [1] and list(at.dataframe[0].value["labels"]) == ["stable"]
        assert any(i.value.startswith("No requests yet: send one under Try it") for i in at.info)
        assert plotly_count(at) == 1  # only CPU and memory until requests arrive

        at.text_area(key="deploy_try_json").set_value("[1, 2, 3, 4]").run()
        by_label(at.button, "Send").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        top = at.dataframe[-1].value
        assert len(top) == 3 and list(top["score"]) == sorted(top["score"], reverse=True)
        assert "answered by version 1" in [c.value for c in at.caption]  # JSON: no label to show
        _try_a_labelled_row(at, home)

        at.text_input(key="deploy_lt_levels").set_value("1,2")
        at.number_input(key="deploy_lt_requests").set_value(100_000)  # bounded by time: the reload below sees it run
        at.number_input(key="deploy_lt_seconds").set_value(3.0)
        at.number_input(key="deploy_lt_budget").set_value(10_000.0)
        by_label(at.button, "Run load test").click().run()  # queued for this host's worker; the page returns
        assert not at.exception and not at.error, [e.value for e in at.error]
        job = api.serving.loadtest_jobs(name)[0]
        assert job.target and job.params["config"]["concurrency"] == [1, 2]
        _wait_for_job(job.id, "running")
        at = page("deploy")  # a reload while it runs: the progress of the same job, the button disabled
        assert not at.exception, [e.value for e in at.exception]
        assert any(f"Job #{job.id} (loadtest)" in p.proto.text for p in at.get("progress"))
        assert by_label(at.button, "Run load test").disabled
        done = api.wait_job(job.id, timeout_s=120, run_inline=False)
        assert done.result["failures"] == 0 and [r["concurrency"] for r in done.result["results"]] == [1, 2]
        assert all(0 < r["requests"] <= 100_000 and r["wall_s"] < 3.0 + 2 for r in done.result["results"])  # bounded
        at = page("deploy")
        assert at.success[-1].value.startswith("Best within p99 10000 ms:")
        assert f"Stored as measurement #{done.result['measurement_id']}" in at.caption[-1].value
        assert plotly_count(at) >= 1
        assert any(i.value.startswith("The response cache is off for this model") for i in at.info), \
            "no empty hit-rate chart for a model served without the cache"
        stored = api.show_model(imported)["measurements"]
        mine = [m for m in stored if m["id"] == done.result["measurement_id"]]
        assert mine and mine[0]["runtime"] == "server-http" and mine[0]["hardware_id"] is not None
        assert mine[0]["job_id"] == job.id
        row = api.family_overview(imported, model_ids=[imported])[0]  # Compare's row: the curve's first level
        assert row["latency_provenance"].startswith("server-http") and row["throughput_per_s"] > 0
        from storage import measurements
        from storage.db import session_scope

        with session_scope() as s:  # a load test is never taken for a session benchmark (parent comparisons)
            assert measurements.latest_measurement(s, imported, "benchmark").runtime == "server-http"
            assert measurements.latest_measurement(s, imported, "benchmark", exclude_runtime="server-http") is None

        by_label(at.button, "Promote").click().run()  # the same variant as version 2, labelled canary
        assert not at.error, [e.value for e in at.error]
        assert api.serving.get_deployment(name)["labels"] == {"stable": 1, "canary": 2}
        at.text_input(key="deploy_move_label").set_value("stable")
        at.selectbox(key="deploy_move_version").set_value(2)
        by_label(at.button, "Move label").click().run()
        import requests

        doc = requests.get(f"http://127.0.0.1:{port}/v1/models/{name}/labels/stable", timeout=10).json()
        assert [s["version"] for s in doc["model_version_status"]] == ["2"]  # the running server reloaded
        by_label(at.button, "Stop").click().run()
        assert _wait_for(name, "exited", 60)["state"] == "exited"
        at = page("deploy")  # a clean stop is not shown as a failure
        assert any(i.value.startswith("The server was stopped") for i in at.info) and not at.error
    finally:
        api.serving.stop_server(name)


def _try_a_labelled_row(at, home) -> None:
    """Try it with a data set row: the answer says the label the data set gives that row, to check it by."""
    import numpy as np

    from tests.app.conftest import run_job

    np.savez(home.parent / "rows.npz", x=np.eye(4, dtype=np.float32)[:3], y=np.array([2, 0, 1]))
    run_job(api.submit_dataset_import(home.parent / "rows.npz", name="rows").id)
    import streamlit as st

    st.cache_data.clear()  # imported behind the page's back: its 2-second list of data sets would not have it yet
    at.radio(key="deploy_try_kind").set_value("Data set row").run()
    by_label(at.selectbox, "Data set").set_value(next(d.id for d in api.list_datasets() if d.name == "rows"))
    at.number_input(key="deploy_try_row").set_value(1).run()
    by_label(at.button, "Send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "answered by version 1; the data set labels this row 0" in [c.value for c in at.caption]


def test_serving_charts_build_from_readings():
    from app import serving_charts
    from engine.serving.readings import reduce, throughput

    samples = [("trimline_requests_total", {"model": "m", "version": "1"}, 10.0),
               ("trimline_request_latency_seconds_bucket", {"model": "m", "version": "1", "le": "0.01"}, 5.0),
               ("trimline_request_latency_seconds_bucket", {"model": "m", "version": "1", "le": "0.02"}, 10.0),
               ("trimline_request_latency_seconds_bucket", {"model": "m", "version": "1", "le": "+Inf"}, 10.0),
               ("trimline_batch_size_bucket", {"model": "m", "version": "1", "le": "1.0"}, 4.0),
               ("trimline_batch_size_bucket", {"model": "m", "version": "1", "le": "2.0"}, 7.0),
               ("trimline_batch_size_sum", {"model": "m", "version": "1"}, 10.0),
               ("trimline_batch_size_count", {"model": "m", "version": "1"}, 7.0),
               ("trimline_cache_hits_total", {"model": "m"}, 1.0), ("trimline_cache_misses_total", {"model": "m"}, 3.0),
               ("trimline_process_rss_bytes", {}, 2**21)]
    first, later = reduce(samples, at=0.0), reduce([(n, l, v * 3 if n == "trimline_requests_total" else v)
                                                   for n, l, v in samples], at=2.0)
    assert first["latency_ms"]["p50"] == pytest.approx(10.0) and first["latency_ms"]["p90"] == pytest.approx(18.0)
    assert first["batch_hist"] == {"1": 4.0, "2": 3.0} and first["hit_rate"] == 0.25 and first["rss_mb"] == 2.0
    assert throughput([first, later]) == [None, 10.0]
    assert len(serving_charts.latency_figure([first, later]).data) == 3
    steady = serving_charts.resources_figure([dict(first, cpu_percent=1.0, rss_mb=165.831),
                                              dict(later, cpu_percent=15.0, rss_mb=165.836)])
    assert list(steady.layout.yaxis2.range) == pytest.approx([0, 165.836 * 1.2])  # not 165.831-165.836
    assert steady.layout.yaxis2.tickformat == ",.0f" and steady.layout.yaxis.rangemode == "tozero"
    assert steady.layout.yaxis.tickformat == ",~g"  # CPU 0.5-steps of an idle server: not rounded to 0, 1, 1, 2
    legend = steady.layout.legend  # a row above the plot, clear of the memory axis's labels on the right
    assert (legend.orientation, legend.yanchor) == ("h", "bottom") and legend.y >= 1
    quiet = serving_charts.throughput_figure([first, later], [None, 0.0])
    assert list(quiet.layout.yaxis.range) == [0, 1]  # not -1 to 1 around the zeros
    busy = serving_charts.throughput_figure([first, later], [None, 10.0])
    assert busy.layout.yaxis.range is None and busy.layout.yaxis.rangemode == "tozero"
    curve = serving_charts.curve_figure({"config": {"p99_budget_ms": 50}, "results": [
        {"concurrency": 1, "throughput_per_s": 10, "latency_ms": {"p50": 1, "p99": 2}},
        {"concurrency": 2, "throughput_per_s": 15, "latency_ms": {}}]})
    assert [list(t.x) for t in curve.data] == [[10], [10]]


def test_deploy_page_serves_the_champion_in_one_click(page, imported):
    from tests.app.conftest import run_job

    child = run_job(api.submit_optimize(imported, "onnx-optimize", {}).job.id).result["model_id"]
    name = api.serving.family_name(imported)
    api.set_champion(child, "optimized graph")  # no deployment yet: nothing to add it to
    api.serving.plan([imported], name=name)
    at = page("deploy")
    assert any("is not served yet" in i.value for i in at.info)
    by_label(at.button, "Serve the champion as version 2 (canary)").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    deployment = api.serving.get_deployment(name)
    assert deployment["versions"][-1] == {"version": 2, "model_id": child} and deployment["labels"]["canary"] == 2
    assert not any("is not served yet" in i.value for i in at.info)
    assert list(at.dataframe[0].value["version"]) == [1, 2]


def test_deploy_settings_say_what_batching_can_gain_from_the_variants_own_benchmark(page, imported):
    from tests.app.conftest import run_job

    at = page("deploy")
    assert any(c.value.startswith("Benchmark this variant at batch sizes above 1") for c in at.caption)
    config = {"batches": [1, 8], "threads": [1], "warmup": 2, "min_runs": 10, "max_runs": 200, "time_budget_s": 0.3}
    run_job(api.submit_benchmark(imported, config).id)
    cells = {c["batch"]: c["latency_ms"]["p50"] for c in api.show_model(imported)["measurements"][-1]["summary"]["results"]}
    bound = api.serving.batching_bound(imported)
    assert bound["per_item_ms"] == {1: cells[1], 8: cells[8] / 8} and bound["threads"] == 1
    assert bound["gain"] == pytest.approx(cells[1] / min(cells[1], cells[8] / 8))
    at = page("deploy")
    caption = next(c.value for c in at.caption if "ms per input, by batch" in c.value)
    if bound["best_batch"] == 8:
        assert caption.startswith(f"This variant's benchmark: batches of 8 give {bound['gain']:.2f}× the throughput")
    else:
        assert caption.startswith("This variant's benchmark runs one input at a time fastest")
