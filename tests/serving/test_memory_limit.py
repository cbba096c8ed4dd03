"""A server keeps to its memory limit (``--memory-mb``): a start whose model does not fit ends with a
sentence; a new version that does not fit is refused while the versions already served keep answering;
a server that passes its limit outside a load (a request too large for it) stops itself with a sentence.

The models are real: a 200-byte ONNX graph whose constant ONNX Runtime folds into a 256 MB tensor when the
session is created, so its memory appears only while the server loads it; and an outer product whose
memory grows with the length of the request's row (ONNX Runtime's arena keeps it afterwards)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import requests

from engine import api
from engine.serving.memory import MemoryGuard, rss_mb
from engine.serving.server import free_port
from tests.serving.conftest import ROOT, cli_env, server_ready, start_cli_server, steady_load

BLOAT_MB = 256


def bloated_onnx(dest: Path, mb: int) -> Path:
    """``y = sum(ones(mb MB) * x)``: a tiny file whose folded constant takes ``mb`` MB once loaded."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = numpy_helper.from_array(np.array([mb << 18], np.int64), "shape")  # float32: 4 bytes each
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["ones"],
                              value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("Mul", ["ones", "x"], ["scaled"]),
             helper.make_node("ReduceSum", ["scaled"], ["y"], keepdims=1)]
    graph = helper.make_graph(nodes, "bloat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(dest))
    return dest


def outer_onnx(dest: Path) -> Path:
    """``y[b] = sum(x[b] ⊗ x[b])``: a row of n floats takes n² × 4 bytes while it runs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    axes = [numpy_helper.from_array(np.array(a, np.int64), f"axes{i}") for i, a in enumerate(([2], [1], [1, 2]))]
    nodes = [helper.make_node("Unsqueeze", ["x", "axes0"], ["column"]),
             helper.make_node("Unsqueeze", ["x", "axes1"], ["row"]),
             helper.make_node("Mul", ["column", "row"], ["outer"]),
             helper.make_node("ReduceSum", ["outer", "axes2"], ["y"], keepdims=0)]
    graph = helper.make_graph(nodes, "outer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "n"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b"])], axes)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(dest))
    return dest


@pytest.fixture(scope="module")
def bloat(studio) -> int:
    from engine.jobs import service

    path = bloated_onnx(studio[0].parent / "bloat.onnx", BLOAT_MB)
    assert path.stat().st_size < 1024
    return service.wait(api.submit_import(path, name="bloat").id, timeout_s=300).result["model_id"]


def test_a_start_that_does_not_fit_ends_with_a_sentence(studio):
    home, first = studio[0], studio[1]
    done = subprocess.run([sys.executable, "-m", "engine.cli", "serve", str(first), "--name", "tight", "--memory-mb",
                           "40", "--port", str(free_port())], env=cli_env(home), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert (f"error: 'tight' version 1 (model {first}) cannot load within this server's memory limit of 40 MB: the "
            "server already uses ") in done.stderr
    assert "--memory-mb" in done.stderr and "Traceback" not in done.stderr


def test_a_version_past_the_limit_is_refused_and_the_served_one_keeps_answering(studio, bloat):
    from engine.errors import InputError

    first, images = studio[1], studio[3]
    limit = 400  # a server of the digits model uses about 150 MB; loading the bloat takes it past 600 MB
    api.serving.plan([first], name="roomy", settings={"intra_threads": 1})
    record = api.serving.start_server("roomy", free_port(), memory_mb=limit)  # as the Deploy page starts it
    url, server = record["url"], psutil.Process(record["pid"])
    try:
        deadline = time.monotonic() + 120
        while not server_ready(url):
            assert time.monotonic() < deadline and api.serving.server_status("roomy")["state"] != "exited", \
                api.serving.server_status("roomy")["log_tail"]
            time.sleep(0.2)
        assert server.memory_info().rss < limit << 20
        with steady_load(url, ["/v1/models/roomy:predict"] * 2, {"instances": images[:1].tolist()}) as traffic:
            time.sleep(0.3)
            with pytest.raises(InputError) as refused:  # as the Deploy page's Promote button calls it
                api.serving.promote("roomy", bloat, label="canary")
            time.sleep(0.5)
        assert (f"'roomy' version 2 (model {bloat}) cannot load within this server's memory limit of {limit} MB: "
                "loading it took the server to ") in str(refused.value)
        assert traffic.failures == [] and len(traffic.answers) > 5, api.serving.server_status("roomy")["log_tail"]
        assert [v["version"] for v in api.serving.get_deployment("roomy")["versions"]] == [1]  # saved as served
        time.sleep(1.0)  # the watchdog, sampling every 0.2 s, leaves a server back within its limit running
        assert api.serving.server_status("roomy")["state"] == "ready"
        assert server.memory_info().rss < limit << 20  # the refused version's memory was given back
        assert requests.get(f"{url}/v2/models/roomy/versions/2/ready", timeout=10).status_code == 404
        answer = requests.post(f"{url}/v1/models/roomy:predict", json={"instances": images[:1].tolist()}, timeout=10)
        assert answer.status_code == 200
        assert api.serving.read_metrics(url)["memory_limit_mb"] == limit
    finally:
        api.serving.stop_server("roomy")


def test_the_watchdog_stops_a_server_past_its_limit_and_lets_a_load_pass_it():
    told: list[str] = []
    # This process is past the limit already, and well within what a load may take (twice the limit): with half
    # its memory as the limit, a worker past 2 GB sat exactly at twice the limit and any growth tripped the guard.
    limit = max(int(rss_mb() * 3 // 4), 1)
    guard = MemoryGuard(limit, told.append, every_s=0.05)
    guard.begin()  # a load in progress may pass the limit (up to twice it, and at least 1 GB more)
    guard.start()
    try:
        time.sleep(0.3)
        assert told == []
        guard.end()
        deadline = time.monotonic() + 5
        while not told and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        guard.stop()
    assert len(told) == 1 and f"more than its limit of {limit} MB (--memory-mb or TRIMLINE_SERVE_MEMORY_MB)" in told[0]


def test_a_refused_load_waits_for_memory_let_go_of_a_moment_later_and_not_past_its_bound():
    """A dropped version's memory can come back a moment after the drop (its threads let go of it on a busy
    machine): ``settle`` waits for it while the load still counts, so the watchdog does not stop the server for
    memory on its way back; memory that does not come back is waited for no longer than the bound."""
    import asyncio
    import threading

    base = rss_mb()
    held = [np.ones(300 << 18, np.float32)]  # 300 MB, touched
    guard = MemoryGuard(int(base + 150), lambda sentence: None)
    assert rss_mb() > guard.limit_mb
    threading.Timer(0.5, held.clear).start()  # let go of half a second later, from another thread
    started = time.monotonic()
    asyncio.run(guard.settle(timeout_s=20))
    assert 0.4 < time.monotonic() - started < 10 and rss_mb() < guard.limit_mb

    held.append(np.ones(300 << 18, np.float32))  # kept: the bound ends the wait
    started = time.monotonic()
    asyncio.run(guard.settle(timeout_s=0.5))
    assert 0.5 <= time.monotonic() - started < 3 and rss_mb() > guard.limit_mb
    held.clear()


def test_a_server_past_its_limit_outside_a_load_stops_itself_with_a_sentence(studio):
    from engine.jobs import service

    home = studio[0]
    outer = service.wait(api.submit_import(outer_onnx(home.parent / "outer.onnx"), name="outer").id,
                         timeout_s=300).result["model_id"]
    proc, url = start_cli_server(home, str(outer), "--name", "outer", "--memory-mb", "400")
    try:
        small = requests.post(f"{url}/v1/models/outer:predict", json={"instances": [[1.0] * 8]}, timeout=30)
        assert small.status_code == 200 and small.json()["predictions"] == [64.0]
        scratch = home / "serving" / "scratch" / str(proc.pid)
        assert (scratch / "home").is_dir()
        try:  # 12288 floats: a 576 MB outer product, past the limit; the server is gone before it answers
            requests.post(f"{url}/v1/models/outer:predict", json={"instances": [[1.0] * 12288]}, timeout=60)
        except requests.ConnectionError:
            pass
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert "error: the server used " in err and "more than its limit of 400 MB (--memory-mb" in err, err
    assert not list(scratch.glob("*"))  # its scratch emptied before it exited
