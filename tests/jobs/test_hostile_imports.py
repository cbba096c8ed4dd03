"""Hostile uploads through the real path: a live worker process, the sandboxed child, the database.

Each must fail with one sentence, run no code, write nothing outside the store, leave the model
count unchanged and leave the worker alive to run the next job.
"""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from engine import api
from engine.jobs import service
from storage import catalog
from storage.db import session_scope
from tests.servers import Workers

pytestmark = pytest.mark.xdist_group("jobs")


def _lambda_keras(folder: Path, sentinel: Path) -> Path:
    import keras

    code = f"lambda x: (__import__('pathlib').Path({str(sentinel)!r}).write_text('ran'), x)[1]"
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(eval(code), name="innocent_looking")(inputs)  # noqa: S307 (a test payload)
    path = folder / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    sentinel.unlink(missing_ok=True)  # building the model ran it once here; the import must never run it
    return path


def _zip_slip(folder: Path) -> Path:
    path = folder / "slip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("saved_model/saved_model.pb", b"\x08\x01")
        zf.writestr("../../escaped.txt", b"pwned")
    return path


def _zip_named_onnx(folder: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", b"not a model")
    path = folder / "model.onnx"
    path.write_bytes(buffer.getvalue())
    return path


def _truncated_onnx(folder: Path, digits_onnx: Path) -> Path:
    data = digits_onnx.read_bytes()
    path = folder / "truncated.onnx"
    path.write_bytes(data[: len(data) // 3])
    return path


def test_hostile_uploads_fail_with_a_sentence_and_the_worker_survives(home: Path, tmp_path: Path,
                                                                       digits_onnx: Path) -> None:
    api.ready()
    sentinel = tmp_path / "sentinel.txt"
    cases = {
        "lambda": (_lambda_keras(tmp_path, sentinel), r"Lambda layer"),
        "zip slip": (_zip_slip(tmp_path), r"\.\."),
        "zip named .onnx": (_zip_named_onnx(tmp_path), r"zip"),
        "truncated onnx": (_truncated_onnx(tmp_path, digits_onnx), r"damaged|truncated|not a valid|could not"),
    }
    workers = Workers()
    try:
        worker = workers.start(home)
        for label, (path, pattern) in cases.items():
            job = api.submit_import(path)
            final = service.get(job.id)
            deadline = time.monotonic() + 120
            while not final.done:
                assert time.monotonic() < deadline, f"{label}: the job never ended"
                time.sleep(0.3)
                final = service.get(job.id)
            assert final.status == "failed", label
            assert final.error and len(final.error.splitlines()) == 1, (label, final.error)
            assert __import__("re").search(pattern, final.error, __import__("re").I), (label, final.error)
            assert worker.poll() is None, f"{label}: the worker died"
        assert not sentinel.exists(), "the Lambda's code ran during import"
        assert not (home / "escaped.txt").exists() and not (home.parent / "escaped.txt").exists()
        with session_scope() as s:
            assert catalog.count_models(s) == 0
        assert not any((home / "uploads").iterdir()), "failed uploads must not linger"
        # the same worker still does real work
        good = service.wait(api.submit_import(digits_onnx).id, timeout_s=120, run_inline=False)
        assert good.status == "succeeded"
    finally:
        workers.stop()


def test_mutated_models_end_succeeded_or_failed_through_the_sandboxed_runner(home: Path,
                                                                           digits_onnx: Path) -> None:
    """Bit flips and truncations of a real model go through the job path: each job ends, with one
    sentence when it fails, and the runner that watched it is unharmed for the next one."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from engine.jobs.runner import run_job

    api.ready()
    original = digits_onnx.read_bytes()
    seen: list[str] = []

    @settings(max_examples=10, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(1, 255)), min_size=1, max_size=40),
           st.integers(16, len(original)))
    def mutate(flips, keep) -> None:  # noqa: ANN001
        data = bytearray(original[:keep])
        for offset, xor in flips:
            if offset < len(data):
                data[offset] ^= xor
        path = home.parent / "mutant.onnx"
        path.write_bytes(bytes(data))
        final = run_job(api.submit_import(path).id)
        assert final.status in ("succeeded", "failed")
        if final.status == "failed":
            assert final.error and "\n" not in final.error and "Traceback" not in final.error
        seen.append(final.status)

    mutate()
    assert len(seen) == 10
    assert run_job(api.submit_import(digits_onnx).id).status == "succeeded"
