"""A studio home with the digits CNN imported as two versions, and real uvicorn servers on free loopback ports."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli_env(home: Path, *paths: Path | str) -> dict[str, str]:
    """This process's environment without Trimline's settings, pointed at ``home`` and this code tree (after
    ``paths``, which come first on the import path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIMLINE_")}
    return {**env, "TRIMLINE_HOME": str(home), "PYTHONPATH": os.pathsep.join([*map(str, paths), str(ROOT)]),
            "ORT_DISABLE_TELEMETRY": "1"}


def server_ready(url: str) -> bool:
    """Whether the server at ``url`` answers ``/v2/health/ready`` with 200 (False while it is not listening)."""
    import requests

    try:
        return requests.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def start_cli_server(home: Path, *args: str, env: dict[str, str] | None = None,
                     timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """``trimline serve ARGS`` on a free loopback port, once ``/v2/health/ready`` answers 200: (process, URL).
    The caller stops the process."""
    from engine.serving.server import free_port
    from tests.servers import wait_for

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", *args, "--port", str(port)],
                            env=env or cli_env(home), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server_ready(url), timeout=timeout, what="the server to be ready", proc=proc, every=0.2)
    except RuntimeError as exc:
        raise AssertionError(f"{exc}: {proc.stderr.read()}") from None
    except AssertionError:
        proc.kill()
        raise
    return proc, url


@dataclass
class SteadyLoad:
    """What the clients of ``steady_load`` got: ``(path, status, text)`` per answer and per failure."""

    answers: list = field(default_factory=list)
    failures: list = field(default_factory=list)


@contextmanager
def steady_load(url: str, paths: list[str], body: dict) -> Iterator[SteadyLoad]:
    """One client thread per entry of ``paths`` posting ``body`` to ``url + path`` in a loop, each on its own
    keep-alive connection, for as long as the block runs; counted in the yielded ``SteadyLoad``."""
    import requests

    stop, load = threading.Event(), SteadyLoad()

    def client(path: str) -> None:
        with requests.Session() as http:
            while not stop.is_set():
                try:
                    r = http.post(url + path, json=body, timeout=30)
                except requests.RequestException as exc:  # a dropped connection fails a request too
                    load.failures.append((path, None, str(exc)[:200]))
                    stop.wait(0.05)
                    continue
                (load.answers if r.status_code == 200 else load.failures).append((path, r.status_code, r.text[:200]))

    workers = [threading.Thread(target=client, args=(p,), daemon=True) for p in paths]
    for w in workers:
        w.start()
    try:
        yield load
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=60)


def scaled_copy(src: Path, dest: Path, factor: float) -> Path:
    """The ONNX model with its first output multiplied by ``factor``: a second version we can tell apart."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    out = model.graph.output[0]
    inner = out.name + "_unscaled"
    for node in model.graph.node:
        node.output[:] = [inner if o == out.name else o for o in node.output]
    model.graph.initializer.append(numpy_helper.from_array(np.array(factor, np.float32), "trimline_scale"))
    model.graph.node.append(helper.make_node("Mul", [inner, "trimline_scale"], [out.name]))
    onnx.save(model, str(dest))
    return dest


@pytest.fixture(scope="session")
def studio(digits_onnx, tmp_path_factory):
    """(home, v1 model id, v2 model id, sample images): a migrated home with two imported digits models."""
    from engine import api
    from engine.jobs import service
    from storage.db import reset_engines

    root = tmp_path_factory.mktemp("serving") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRIMLINE_HOME", str(root))
        mp.delenv("TRIMLINE_DATABASE_URL", raising=False)
        mp.delenv("TRIMLINE_QUEUE_URL", raising=False)
        mp.delenv("TRIMLINE_SERVE_TOKEN", raising=False)
        reset_engines()
        v2_file = scaled_copy(digits_onnx, root.parent / "digits_x2.onnx", 2.0)
        first = service.wait(api.submit_import(digits_onnx, name="digits").id, timeout_s=300).result["model_id"]
        second = service.wait(api.submit_import(v2_file, name="digits x2").id, timeout_s=300).result["model_id"]
        images = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)
        yield root, first, second, images
        reset_engines()


@pytest.fixture(scope="session")
def reference(studio, digits_onnx):
    """The bare onnxruntime outputs of version 1 on the sample images."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(digits_onnx), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return name, session.run(None, {name: studio[3]})[0]


def start_server(deployments, **options):
    from engine.serving import deployments as store
    from engine.serving.common import ServerOptions
    from engine.serving.server import BackgroundServer

    return BackgroundServer(deployments, store.artifact_for, ServerOptions(port=0, **options),
                            reread=store.load).start()
