"""Faults replayed on real processes, files and SQLite databases. Every scenario ends with the same
checks: no job left running, no row pointing at a missing artifact, no orphaned scratch or upload."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIMLINE_")}
    env.update(TRIMLINE_HOME=str(home), PYTHONPATH=str(ROOT), ORT_DISABLE_TELEMETRY="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def cli(home: Path, *args: str, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env_for(home, **extra),
                          capture_output=True, text=True, timeout=timeout)


def _as_from_a_terminal() -> None:
    """Ctrl-C as a shell's foreground command gets it: a blocked or ignored SIGINT survives exec, and a test
    process may have either from a library that ran in it earlier (a CLI so started ran on through its SIGINT)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(home: Path, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env_for(home, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)


def jobs(home: Path) -> list[dict]:
    with sqlite3.connect(home / "trimline.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT id, kind, status, error, attempts, worker FROM jobs ORDER BY id")]


def wait_for(predicate, timeout_s: float = 60, what: str = "the condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.2)


def assert_consistent(home: Path) -> None:
    """No job stuck running, every stored row's artifact exists, no scratch or upload left behind."""
    assert [j for j in jobs(home) if j["status"] == "running"] == []
    with sqlite3.connect(home / "trimline.db") as db:
        for table in ("models", "datasets"):
            for (artifact,) in db.execute(f"SELECT artifact FROM {table}"):
                assert (home / "artifacts" / artifact).exists(), f"{table} row points at missing {artifact}"
    leftovers = [p for folder in ("scratch", "uploads") for p in (home / folder).glob("*")]
    assert leftovers == [], leftovers


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-node ONNX model with a dynamic batch: imports and benchmarks in a second or two."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((16, 8), "float32"), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                              "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture()
def imported(tmp_path: Path, tiny_onnx: Path) -> tuple[Path, int]:
    """(home, model id): a fresh home holding the tiny model."""
    home = tmp_path / "home"
    run = cli(home, "import", str(tiny_onnx), "--json")
    assert run.returncode == 0, run.stderr
    return home, json.loads(run.stdout)["id"]
