"""Two hosts: workers in separate network namespaces (each with its own host name and TRIMLINE_HOME)
against one PostgreSQL, one Redis and one S3-compatible store, all reached over veth links.

Addresses are 10.213.N.x, created inside this test's own namespaces and links and deleted after it.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine import api
from storage import artifacts
from storage.db import reset_engines
from tests.app.conftest import write_tiny_onnx
from tests.servers import PostgresServer, RedisServer, S3Server, Workers, wait_for

pytestmark = pytest.mark.xdist_group("servers")  # real worker processes: one at a time, beside the jobs group

BENCH = {"batches": [1], "threads": [1], "time_budget_s": 0.2, "profile": False}


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True)


class Network:
    """Namespaces ``a`` and ``b``, each linked to this namespace by a veth pair with a /30 of its own.

    The servers listen on ``hub`` (this side of the link to ``a``); ``b`` reaches it through its default
    route, as a host on another segment would."""

    def __init__(self) -> None:
        n = random.randint(1, 250)
        self.tag = f"tl{os.getpid() % 10000}{n}"
        self.hub = f"10.213.{n}.1"
        self.links = {"a": (f"10.213.{n}.1", f"10.213.{n}.2"), "b": (f"10.213.{n}.5", f"10.213.{n}.6")}
        self.made: list[str] = []

    def ns(self, side: str) -> str:
        return f"{self.tag}-{side}"

    def up(self) -> None:
        for side, (near, far) in self.links.items():
            ns, veth = self.ns(side), f"{self.tag}{side}"
            steps = [("netns", "add", ns), ("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns),
                     ("addr", "add", f"{near}/30", "dev", veth), ("link", "set", veth, "up"),
                     ("-n", ns, "link", "set", "lo", "up"), ("-n", ns, "addr", "add", f"{far}/30", "dev", "eth0"),
                     ("-n", ns, "link", "set", "eth0", "up"), ("-n", ns, "route", "add", "default", "via", near)]
            for step in steps:
                done = _ip(*step)
                if done.returncode != 0:
                    raise RuntimeError(f"ip {' '.join(step)}: {done.stderr.strip()}")
                if step[:2] == ("netns", "add"):
                    self.made.append(ns)

    def down(self) -> None:
        for ns in self.made:  # deleting a namespace deletes its veth end, and with it the pair
            _ip("netns", "del", ns)


@pytest.fixture()
def two_hosts(home: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        pytest.skip("network namespaces need root and the ip and unshare tools")
    net = Network()
    try:
        net.up()
    except RuntimeError as exc:
        net.down()
        pytest.skip(f"the kernel refused a network namespace here: {exc}")
    servers = []
    try:
        pg = PostgresServer(listen=(net.hub,)).start()
        servers.append(pg)
        rd = RedisServer(listen=(net.hub,)).start()
        servers.append(rd)
        s3 = S3Server(host=net.hub).start()
        servers.append(s3)
        env = {**s3.env(), "TRIMLINE_DATABASE_URL": pg.url(pg.create_database()), "TRIMLINE_QUEUE_URL": rd.url(),
               "TRIMLINE_STORE_URL": f"s3://{s3.create_bucket()}/trimline", "TRIMLINE_LEASE_S": "4"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_engines()
        artifacts._stores.clear()
        yield net, env
    finally:
        for server in servers:
            server.stop()
        net.down()
        reset_engines()
        artifacts._stores.clear()


def _start_worker(workers: Workers, net: Network, side: str, home: Path, *labels: str) -> subprocess.Popen:
    """A worker inside namespace ``side``, with a UTS namespace of its own named ``host-<side>``."""
    launcher = ("ip", "netns", "exec", net.ns(side), "unshare", "--uts", "sh", "-c",
                f'hostname host-{side} && exec "$@"', "sh")
    return workers.start(home / f"host-{side}", *labels, launcher=launcher, register=False)


def test_two_hosts_share_one_catalogue_target_by_label_and_take_over_a_dead_hosts_job(
        two_hosts, home: Path, tmp_path: Path) -> None:  # noqa: ANN001
    net, _ = two_hosts
    model_id = api.wait_job(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx")).id).result["model_id"]
    workers = Workers()
    procs = {"a": _start_worker(workers, net, "a", tmp_path, "edge"), "b": _start_worker(workers, net, "b", tmp_path)}
    try:
        listed = wait_for(lambda: (lambda ws: ws if len(ws) == 2 else None)(api.list_workers()), 90, "two workers")
        assert {w["host"]: w["labels"] for w in listed} == {"host-a": ["edge"], "host-b": []}

        bench = api.wait_job(api.submit_benchmark(model_id, BENCH, target="edge").id, timeout_s=300, run_inline=False)
        assert bench.result["worker"].startswith("host-a:")  # measured on the edge box, read from the shared store
        assert (tmp_path / "host-a" / "cache" / "artifacts" / api.get_model(model_id).artifact).exists()

        job = api.submit_benchmark(model_id, {**BENCH, "batches": [1, 2, 4], "time_budget_s": 3.0})
        running = wait_for(lambda: (lambda j: j if j.status == "running" else None)(api.get_job(job.id)), 120,
                            "a worker to claim the benchmark")
        time.sleep(1.0)
        doomed = running.worker.split(":")[0][-1]
        os.killpg(procs[doomed].pid, signal.SIGKILL)  # that host's worker dies mid-job
        procs[doomed].wait()
        final = api.wait_job(job.id, timeout_s=300, run_inline=False)
        survivor = "b" if doomed == "a" else "a"
        assert final.status == "succeeded" and final.attempts == 2
        assert final.worker.startswith(f"host-{survivor}:") and final.result["worker"] == final.worker
    finally:
        workers.stop()
