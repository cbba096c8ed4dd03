"""A real dashboard behind its guard (``streamlit run app/server.py``) with a team password, and a tiny
ONNX model whose tensor names are hostile. The server binds 127.0.0.1 on a free port."""
from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
UPLOAD_CAP_MB = 1


@dataclass
class Live:
    port: int
    home: Path
    cookie: str = ""

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                host: str | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"Host": host or f"127.0.0.1:{self.port}", **(headers or {})}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.body = response.read()
        conn.close()
        return response

    def signed_in(self, extra: dict | None = None) -> dict:
        return {"Cookie": self.cookie, **(extra or {})}


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Live:
    """The dashboard as `trimline up` serves it, signed in once (before any test throttles the account)."""
    from app import netron_view

    netron_view.install_viewer()
    home = tmp_path_factory.mktemp("guarded-home")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIMLINE_")}
    env.update(TRIMLINE_HOME=str(home), TRIMLINE_PASSWORD=PASSWORD, PYTHONPATH=str(ROOT))
    log = (home / "dashboard.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "server.py"),
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--server.headless", "true", "--server.maxUploadSize", str(UPLOAD_CAP_MB)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Live(port, home)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if server.request("GET", "/_stcore/health").status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the guarded dashboard did not start: " + (home / "dashboard.log").read_text())
            time.sleep(0.3)
        answer = server.request("POST", "/trimline/login", {"Content-Type": "application/x-www-form-urlencoded"},
                                f"password={PASSWORD}&next=/".encode())
        assert answer.status == 303
        server.cookie = answer.getheader("set-cookie").split(";", 1)[0]
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


HOSTILE_NAME = 'x"\n}\n]\ninput [ { name: "injected" data_type: TYPE_STRING dims: [ 1 ] } ]\n#'


@pytest.fixture(scope="session")
def hostile_names_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid two-node ONNX model whose input and output names carry quotes, newlines and a fake block."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3), "float32"), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", [HOSTILE_NAME, "w"], ["h"]), helper.make_node("Relu", ["h"], ["out`\n# y"])],
        "hostile", [helper.make_tensor_value_info(HOSTILE_NAME, TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("out`\n# y", TensorProto.FLOAT, ["batch", 3])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("hostile") / "names.onnx"
    onnx.save(model, path)
    return path
