"""A running `trimline up` for each browser test module (a fresh home, so the demo is model #1)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.e2e.studio import CHROMIUM, ROOT, SHOTS, Stack
from tests.servers import free_port, wait_for


def _healthy(url: str) -> bool:
    """Whether the dashboard answers ``url`` with 200 (False while it is not listening yet)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """(base URL, TRIMLINE_HOME) of a running `trimline up`, stopped with SIGINT to its process group."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    home = tmp_path_factory.mktemp("e2e-home")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRIMLINE_PASSWORD", "TRIMLINE_DATABASE_URL", "TRIMLINE_QUEUE_URL")}
    env.update(TRIMLINE_HOME=str(home), ORT_DISABLE_TELEMETRY="1", TF_CPP_MIN_LOG_LEVEL="2")
    SHOTS.mkdir(exist_ok=True)
    log = (SHOTS / "e2e-stack.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "up", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health = f"http://127.0.0.1:{port}/_stcore/health"
        wait_for(lambda: _healthy(health), timeout=90, what="`trimline up`'s dashboard to be healthy", proc=proc,
                 every=0.5)
        yield Stack(f"http://127.0.0.1:{port}", home)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
