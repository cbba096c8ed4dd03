"""A new champion joins the served versions (hot, beside the old, under load); servers follow saved changes;
`trimline up` stops the servers started under it, and a server whose owner dies stops by itself."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from engine import api
from engine.serving.server import free_port
from engine.jobs import landlock
from tests.servers import wait_for
from tests.serving.conftest import ROOT, cli_env, scaled_copy, server_ready, start_server, steady_load



@pytest.fixture(scope="module")
def family(studio, digits_onnx):
    """(root id, child id): a family of its own (so no other test's deployment is touched) with one variant."""
    from engine.jobs import service

    root_file = scaled_copy(digits_onnx, studio[0].parent / "champ.onnx", 3.0)
    root = service.wait(api.submit_import(root_file, name="champ").id, timeout_s=300).result["model_id"]
    child = service.wait(api.submit_optimize(root, "onnx-optimize", {}).job.id, timeout_s=300).result["model_id"]
    return root, child


def _until(predicate, timeout_s: float = 120, what: str = "it") -> None:  # noqa: ANN001
    """Servers start and stop in seconds: poll every 0.2 s, for two minutes unless told."""
    wait_for(predicate, timeout_s, what, every=0.2)


def test_new_champion_is_served_as_the_next_version_without_failing_a_request(studio, family):
    root, child = family
    images = studio[3]
    api.serving.plan([root], name="champ", settings={"intra_threads": 1})
    port = free_port()
    server = api.serving.start_server("champ", port)
    url = server["url"]
    try:
        _until(lambda: server_ready(url), what="the managed server becoming ready")
        scratch = studio[0] / "serving" / "scratch" / str(server["pid"])
        assert (scratch / "home").is_dir()  # the walled server's TMPDIR and HOME
        with steady_load(url, ["/v1/models/champ:predict"] * 3, {"instances": images[:1].tolist()}) as traffic:
            time.sleep(0.5)
            api.set_champion(child, "optimized graph")  # the managed server loads it beside version 1, then swaps
            deployment = api.serving.get_deployment("champ")
            assert deployment["versions"][-1] == {"version": 2, "model_id": child}
            assert deployment["labels"] == {"stable": 1, "canary": 2}
            assert requests.get(f"{url}/v2/models/champ/versions/2/ready", timeout=10).status_code == 200
            walls = api.serving.server_status("champ")["sandbox"]  # it loaded version 2 from behind its walls
            assert ("landlock: on" if landlock.abi_version() >= 1 else "landlock: off") in walls
            time.sleep(0.5)
        versions = requests.get(f"{url}/v2/models/champ/stats", timeout=10).json()["versions"]
    finally:
        api.serving.stop_server("champ")
    assert traffic.failures == [] and len(traffic.answers) > 10
    assert {v["version"]: v["model_id"] for v in versions} == {1: root, 2: child}
    assert not scratch.exists()  # stopped with SIGTERM: its scratch folder is gone
    assert "stopped serving champ" in Path(server["log"]).read_text()  # it shut down, not killed by the signal
    api.set_champion(child, "again")  # already served: nothing is added
    assert len(api.serving.get_deployment("champ")["versions"]) == 2


def test_a_foreground_server_follows_saved_changes(family):
    from engine.serving.deployments import load

    root, child = family
    api.serving.plan([root], name="follow", settings={"intra_threads": 1})
    server = start_server([load("follow")])
    try:
        api.serving.promote("follow", child, label="canary")  # saved only: no managed server to ask
        _until(lambda: requests.get(f"{server.url}/v2/models/follow/versions/2/ready", timeout=5).status_code == 200,
               timeout_s=30, what="the server picking up version 2")
        doc = requests.get(f"{server.url}/v1/models/follow/labels/canary", timeout=10).json()
        assert [s["version"] for s in doc["model_version_status"]] == ["2"]
    finally:
        server.stop()


def _tree(pid: int) -> list[int]:
    return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.parametrize("ctrl_c", ["terminal", "up alone"])
def test_trimline_up_stops_the_servers_started_under_it_within_seconds(studio, family, ctrl_c):
    # before: 22-35 s with a deployment served (4-5 s without): each server's exit was waited for until its pid
    # disappeared, which a zombie (its parent is the dashboard that started it) never does, 15 s, then 15 s more
    from engine.serving import managed

    home = studio[0]
    api.serving.plan([family[0]], name="owned", settings={"intra_threads": 1})
    up = subprocess.Popen([sys.executable, "-m", "engine.cli", "up", "--port", str(free_port())], env=cli_env(home),
                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
    try:
        _until(lambda: (managed.owner() or {}).get("pid") == up.pid, 60, "trimline up taking ownership")
        record = api.serving.start_server("owned", free_port())  # as the Deploy page in up's dashboard does
        assert record["owner"]["pid"] == up.pid
        _until(lambda: server_ready(record["url"]), what="the managed server becoming ready")
        _until(lambda: any("streamlit" in " ".join(p.cmdline()) for p in psutil.Process(up.pid).children()), 60,
               "the dashboard starting")
        processes = _tree(up.pid) + [record["pid"]]
        began = time.monotonic()
        if ctrl_c == "terminal":  # Ctrl-C reaches every process of the foreground group: up, worker, dashboard
            os.killpg(up.pid, signal.SIGINT)
        else:  # kill -INT of up alone (or make run's SIGINT to it): up stops the others
            up.send_signal(signal.SIGINT)
        _, err = up.communicate(timeout=120)
        took = time.monotonic() - began
        _until(lambda: not any(_running(pid) for pid in processes), 10, "every process of up to be gone")
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        api.serving.stop_server("owned")
    assert took < 12, f"trimline up took {took:.1f} s to stop: {err}"
    assert "stopped serving 'owned'" in err
    assert re.search(r"stopped (worker 1 and the dashboard|the dashboard and worker 1) in \d+\.\d s", err), err
    assert "(killed" not in err, err
    assert api.serving.server_status("owned")["state"] == "exited" and managed.owner() is None
    assert not (home / "serving" / "scratch" / str(record["pid"])).exists()


def test_a_server_whose_owner_is_killed_stops_by_itself(studio, family):
    from engine.serving import managed

    api.serving.plan([family[0]], name="orphan", settings={"intra_threads": 1})
    owner = subprocess.Popen([sys.executable, "-c", "from engine.serving import managed; managed.claim_ownership(); "
                              "import time; time.sleep(600)"], env=cli_env(studio[0]), cwd=ROOT)
    try:
        _until(lambda: (managed.owner() or {}).get("pid") == owner.pid, 60, "the owner recording itself")
        record = api.serving.start_server("orphan", free_port())
        _until(lambda: server_ready(record["url"]), what="the managed server becoming ready")
        owner.kill()  # no chance to stop anything
        owner.wait()
        _until(lambda: api.serving.server_status("orphan")["state"] == "exited", 30, "the server stopping")
    finally:
        owner.kill()
        api.serving.stop_server("orphan")
    assert not server_ready(record["url"])
