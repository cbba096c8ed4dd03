"""After an import is queued, Home empties its upload form and says what was queued."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from engine import api


def _uploader(at, label: str):
    return next(u for u in at.get("file_uploader") if u.proto.label == label)


def test_model_upload_is_cleared_once_its_import_is_queued(page, tiny_onnx: Path) -> None:
    at = page("home")
    _uploader(at, "Model file").upload("tiny.onnx", tiny_onnx.read_bytes()).run()
    at.text_input(key="model_name").input("first")
    at.button(key="import_model").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (job,) = api.list_jobs()
    assert job.kind == "import" and job.params["name"] == "first"
    assert not _uploader(at, "Model file").value  # the file left the widget
    assert at.text_input(key="model_name").value == ""
    assert at.button(key="import_model").disabled
    said = [i.value for i in at.info]
    assert any(f"job #{job.id}" in s and "tiny.onnx" in s and "“first”" in s for s in said), said
    at.run()  # a rerun queues nothing more (a second click is refused: the button is disabled)
    assert [j.id for j in api.list_jobs()] == [job.id]


def test_a_second_upload_after_the_first_is_imported_too(page, tiny_onnx: Path) -> None:
    at = page("home")
    for name in ("first", "second"):
        _uploader(at, "Model file").upload("tiny.onnx", tiny_onnx.read_bytes()).run()
        at.text_input(key="model_name").input(name)
        at.button(key="import_model").click().run()
    assert sorted(j.params["name"] for j in api.list_jobs()) == ["first", "second"]
    assert at.session_state["home_job"] == max(j.id for j in api.list_jobs())


def test_data_upload_is_cleared_once_its_import_is_queued(page) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((4, 3), dtype=np.float32), y=np.arange(4))
    at = page("home")
    _uploader(at, "Data file").upload("points.npz", buffer.getvalue()).run()
    at.button(key="import_data").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (job,) = api.list_jobs()
    assert not _uploader(at, "Data file").value and at.button(key="import_data").disabled
    assert any(f"job #{job.id}" in i.value and "points.npz" in i.value for i in at.info)
