"""The throwaway servers the tests start never outlive the process that started them, even when that
process is killed outright (a test run stopped by a timeout or by hand)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.servers import wait_for

ROOT = Path(__file__).resolve().parents[2]
STARTER = """
import sys, time
from tests.servers import PostgresServer, RedisServer
servers = [PostgresServer().start(), RedisServer().start()]
print(" ".join(str(s.proc.pid) for s in servers), " ".join(str(s.folder) for s in servers), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_servers_die_with_a_test_process_that_is_killed() -> None:
    from tests.servers import pg_bin

    if not pg_bin("initdb"):
        pytest.skip("PostgreSQL is not installed (bash .ci/run installs it)")
    folders: list[str] = []
    starter = subprocess.Popen([sys.executable, "-c", STARTER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        words = starter.stdout.readline().split()
        pids, folders = [int(p) for p in words[:2]], words[2:]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        backends = psutil.Process(pids[0]).children(recursive=True)  # PostgreSQL's own processes
        os.kill(starter.pid, signal.SIGKILL)  # no fixture teardown runs
        starter.wait()
        wait_for(lambda: not any(_alive(p) for p in pids + [b.pid for b in backends]), 30,
                 "the servers to stop after their starter died")
    finally:
        if starter.poll() is None:
            starter.kill()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
