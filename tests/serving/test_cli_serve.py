"""`trimline serve` and `trimline loadtest` through the installed entry point, in their own processes."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from engine.serving.server import free_port

from tests.serving.conftest import ROOT, cli_env, start_cli_server
from tests.servers import Workers


def _trimline(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=cli_env(home), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_serve_answers_until_ctrl_c_and_loadtest_stores_a_measurement(studio):
    home, first, second, images = studio
    proc, url = start_cli_server(home, str(second), str(first), "--name", "cli")
    try:
        meta = requests.get(f"{url}/v2/models/cli", timeout=10).json()
        assert meta["versions"] == ["1", "2"]
        stats = requests.get(f"{url}/v2/models/cli/stats", timeout=10).json()
        assert {v["version"]: v["model_id"] for v in stats["versions"]} == {1: first, 2: second}  # newest id highest
        done = _trimline(home, "loadtest", "cli", "--url", url, "--concurrency", "1,2", "--requests", "20",
                         "--seconds", "20", "--p99-budget-ms", "5000", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert [r["concurrency"] for r in result["results"]] == [1, 2]
        assert all(r["requests"] == 20 and r["failures"] == 0 for r in result["results"])
        assert result["best"]["throughput_per_s"] == max(r["throughput_per_s"] for r in result["results"])
        shown = json.loads(_trimline(home, "show", str(second), "--json").stdout)
        stored = [m for m in shown["measurements"] if m.get("runtime") == "server-http"]
        assert stored and stored[-1]["summary"]["results"][0]["latency_ms"]["p50"] > 0
        assert stored[-1]["hardware_id"] is not None
        _loadtest_as_a_job(home, url, second)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v2/health/live", timeout=2)


def _loadtest_as_a_job(home: Path, url: str, model_id: int) -> None:
    """`trimline loadtest --job`: refused without a worker on this host; with one, queued, its id printed,
    run by that worker and stored as the Deploy page's load tests are."""
    from engine import api

    args = ("loadtest", "cli", "--url", url, "--concurrency", "1", "--requests", "10", "--seconds", "10",
            "--p99-budget-ms", "5000", "--job")
    alone = _trimline(home, *args)
    assert alone.returncode == 1 and "error: no worker runs on this host to drive the load test" in alone.stderr
    workers = Workers()
    try:
        workers.start(home, env=cli_env(home))
        queued = _trimline(home, *args)
        assert queued.returncode == 0, queued.stderr
        job_id = int(queued.stdout.split("as job ")[1].split(";")[0])
        job = api.wait_job(job_id, timeout_s=120, run_inline=False)
        assert job.kind == "loadtest" and job.status == "succeeded", job.error
        assert job.result["results"][0]["requests"] == 10 and job.result["results"][0]["failures"] == 0
        assert job.result["model_id"] == model_id and job.result["measurement_id"]
        assert api.serving.loadtest_jobs("cli")[0].id == job_id  # where the Deploy page finds it
    finally:
        workers.stop()


def test_serve_refuses_bad_input_with_a_sentence(studio):
    home, first, _, _ = studio
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = _trimline(home, "serve", str(first), "--port", str(port))
    assert taken.returncode == 1 and f"error: port {port} on 127.0.0.1 is in use" in taken.stderr
    missing = _trimline(home, "serve", "9999", "--port", str(free_port()))  # not 8600: a studio may serve there
    assert missing.returncode == 1 and "error: model 9999 does not exist" in missing.stderr
    open_host = _trimline(home, "serve", str(first), "--host", "0.0.0.0", "--port", str(free_port()))
    assert open_host.returncode == 1 and "set a token with --token" in open_host.stderr
    no_server = _trimline(home, "loadtest", "cli", "--url", f"http://127.0.0.1:{free_port()}")
    assert no_server.returncode == 1 and no_server.stderr.startswith("error: ")
    policy = _trimline(home, "serve", str(first), "--policy", "newest", "--port", str(free_port()))
    assert policy.returncode == 1 and "version policy 'newest' is not one of" in policy.stderr


def test_models_of_two_families_serve_under_their_own_names(studio):
    from engine import api

    _, first, second, _ = studio
    names = api.serving.plan_families([second, first])
    assert sorted(names) == ["digits", "digits-x2"]
    for name, model_id in (("digits", first), ("digits-x2", second)):
        deployment = api.serving.get_deployment(name)
        assert deployment["versions"] == [{"version": 1, "model_id": model_id}] and deployment["labels"] == {"stable": 1}
    assert api.serving.plan_families([first, second], name="both")[0] == "both"
    assert [v["model_id"] for v in api.serving.get_deployment("both")["versions"]] == [first, second]
