"""A cancelled search keeps what it finished: its candidates become lineage nodes, marked partial."""
from __future__ import annotations

import json
import threading
import time


def test_cancelling_a_search_keeps_the_candidates_it_finished(home, tmp_path):
    from engine import api
    from tests.app.conftest import run_job, write_tiny_onnx

    model = run_job(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx"), name="tiny").id).result["model_id"]
    job = api.submit_auto(model_id=model, budget="5m", target="onnxruntime")
    runner = threading.Thread(target=lambda: _quietly(run_job, job.id))
    runner.start()
    live = api.settings().scratch_dir / f"job-{job.id}-1" / "live.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            rows = json.loads(live.read_text())["candidates"]
        except (OSError, ValueError, KeyError):
            rows = []
        if any(r["status"] in ("accepted", "rejected") and r.get("p50_ms") is not None for r in rows):
            break  # a candidate was timed (one computing what the parent does is rejected untimed)
        time.sleep(0.2)
    api.cancel_job(job.id)
    runner.join(timeout=120)
    final = api.get_job(job.id)
    assert final.status == "cancelled"
    assert final.result["partial"] is True and final.result["recommended"] is None
    kept = [c for c in final.result["candidates"] if c["status"] in ("accepted", "rejected") and c["id"] is not None]
    assert kept, final.result["candidates"]
    for c in kept:
        assert api.get_model(c["id"]).root_id == api.get_model(model).root_id
    timed = [c for c in final.result["candidates"] if c["id"] is not None and c["p50_ms"] is not None
             and not c["session_trial"]]  # their timings too (the reference's with them), from the live table's runs
    latest = api.latest_benchmarks([c["id"] for c in timed])
    assert len(timed) >= 2 and all(latest[c["id"]]["search"]["job_id"] == job.id and latest[c["id"]]["results"][0][
        "latency_ms"]["p50"] == c["p50_ms"] for c in timed), latest


def _quietly(fn, *args) -> None:  # noqa: ANN001
    try:
        fn(*args)
    except Exception:  # the cancelled job raises in its waiter; the test reads the job's record instead
        pass
