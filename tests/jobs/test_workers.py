"""Workers on one PostgreSQL database and one Redis queue: registration, targeting, lost wake-ups,
and a worker whose library versions differ from the catalogue's. Real worker processes throughout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from engine import api
from engine.errors import InputError
from engine.jobs import service
from engine.jobs import placement
from engine.jobs.placement import library_versions
from storage import jobs as jobstore
from storage import workers as registry
from storage.db import reset_engines, session_scope
from tests.app.conftest import write_tiny_onnx
from tests.servers import Workers

pytestmark = pytest.mark.xdist_group("servers")  # real worker processes: one at a time, beside the jobs group

FAST_BENCH = {"batches": [1], "threads": [1], "time_budget_s": 0.2, "profile": False}


@pytest.fixture()
def cluster(home: Path, pg_server, redis_server, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """TRIMLINE_* pointing at a fresh PostgreSQL database and a Redis queue; starts workers on demand."""
    monkeypatch.setenv("TRIMLINE_DATABASE_URL", pg_server.url(pg_server.create_database()))
    monkeypatch.setenv("TRIMLINE_QUEUE_URL", redis_server.url())
    monkeypatch.setenv("TRIMLINE_STORE_URL", str(home.parent / "shared-store"))  # a mount every host shares
    redis.Redis.from_url(redis_server.url()).flushdb()
    reset_engines()
    api.ready()
    workers = Workers()

    def start(*labels: str, home_dir: Path | None = None) -> subprocess.Popen:
        return workers.start(home_dir or home, *labels)

    yield start
    workers.stop()
    reset_engines()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=300)


def test_workers_register_and_targeted_measurements_run_on_the_labelled_one(cluster, tmp_path: Path) -> None:  # noqa: ANN001
    plain = cluster()
    edge = cluster("edge", home_dir=tmp_path / "edge-host")
    listed = json.loads(_cli("workers", "--json").stdout)
    assert {"id", "host", "labels", "fingerprint", "heartbeat", "job"} <= set(listed[0])
    by_pid = {w["pid"]: w for w in listed}
    assert by_pid[edge.pid]["labels"] == ["edge"] and by_pid[plain.pid]["labels"] == []
    assert len(by_pid[edge.pid]["fingerprint"]) == 64

    model_id = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx")).id, timeout_s=300).result["model_id"]
    # Whichever worker the wake-up reaches, only the edge one may run it.
    bench = service.wait(api.submit_benchmark(model_id, FAST_BENCH, target="edge").id, timeout_s=300)
    assert bench.result["worker"] == by_pid[edge.pid]["id"] == bench.worker
    with pytest.raises(InputError, match="no live worker answers to 'gpu'"):
        api.submit_benchmark(model_id, FAST_BENCH, target="gpu")

    # The interleaved A/B from the command line, aimed at the edge box: its JSON names the worker.
    other = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "u.onnx", seed=1)).id,
                         timeout_s=300).result["model_id"]
    done = _cli("compare", str(model_id), str(other), "--interleaved", "--target", "edge", "--json")
    assert done.returncode == 0, done.stderr
    ab = json.loads(done.stdout)
    assert ab["worker"] == by_pid[edge.pid]["id"]
    assert (ab["model_id"], ab["versus"]) == (model_id, other) and ab["pairs"] > 0
    job = next(j for j in api.list_jobs() if j.kind == "ab_compare")
    assert job.worker == ab["worker"] and job.target == "edge"
    refused = _cli("compare", str(model_id), str(other), "--interleaved", "--target", "gpu", "--json")
    assert refused.returncode == 1 and refused.stderr.startswith("error: no live worker answers to 'gpu'")


def test_a_lost_wake_up_costs_latency_not_the_job(cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  redis_server) -> None:  # noqa: ANN001
    cluster()
    model_id = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx")).id, timeout_s=300).result["model_id"]
    queue_url = os.environ["TRIMLINE_QUEUE_URL"]
    # The wake-up goes to a queue no worker reads, as when a message is lost: the row is the truth.
    monkeypatch.setenv("TRIMLINE_QUEUE_URL", f"redis://127.0.0.1:{redis_server.port}/15")
    job = api.submit_export(model_id, "onnx")
    monkeypatch.setenv("TRIMLINE_QUEUE_URL", queue_url)
    done = service.wait(job.id, timeout_s=120, run_inline=False)
    assert done.status == "succeeded" and done.attempts == 1
    assert (done.started_at - done.created_at).total_seconds() < 10


def test_a_worker_with_other_library_versions_says_so_and_takes_only_measurements_aimed_at_it(
        cluster, tmp_path: Path) -> None:  # noqa: ANN001
    model_id = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx")).id, timeout_s=300).result["model_id"]
    with session_scope() as s:  # the catalogue was built by a release with another onnxruntime
        registry.set_catalogue_versions(s, {**library_versions(), "onnxruntime": "1.20.0"})
    proc = cluster("lab")
    row = next(w for w in api.list_workers() if w["pid"] == proc.pid)
    assert "onnxruntime 1.32.0 (catalogue: 1.20.0)" in row["note"]
    export = api.submit_export(model_id, "onnx")
    bench = service.wait(api.submit_benchmark(model_id, FAST_BENCH, target="lab").id, timeout_s=300)
    assert bench.worker == row["id"]
    assert service.get(export.id).status == "queued"  # a conversion it would make differently waits for another
    service.cancel(export.id)


def test_a_wake_up_for_a_job_aimed_at_an_idle_worker_elsewhere_is_passed_on_to_it(home: Path) -> None:
    api.ready()
    edge = "edge-box:41:a1b2c3"
    with session_scope() as s:  # an edge worker waiting on the queue
        registry.register(s, edge, 41, "edge-box", ["edge"], "f" * 64, library_versions(), None)
    aimed = service.submit("benchmark", {"model_id": 1, "config": FAST_BENCH}, target="edge")
    placement.start("plain-box:42:d4e5f6")  # this worker does not answer to 'edge'
    try:
        passed: list[int] = []
        placement.run_from_queue(aimed.id, passed.append)
        assert passed == [aimed.id] and service.get(aimed.id).status == "queued"

        busy = service.submit("benchmark", {"model_id": 1, "config": FAST_BENCH}, target="edge")
        with session_scope() as s:  # the edge worker is running something: its sweep will take the job
            assert jobstore.claim(s, busy.id, edge)
        passed.clear()
        placement.run_from_queue(aimed.id, passed.append)
        assert passed == [] and service.get(aimed.id).status == "queued"
    finally:
        placement.stop()
