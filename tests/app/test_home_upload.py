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


def test_the_queued_line_gives_way_to_how_the_import_ended(page, tiny_onnx: Path, tmp_path: Path) -> None:
    """"queued as job #N" stayed on Home after the job had ended; now the outcome says how it ended instead."""
    import pytest

    from engine.errors import JobFailedError
    from tests.app.conftest import run_job

    at = page("home")
    _uploader(at, "Model file").upload("tiny.onnx", tiny_onnx.read_bytes()).run()
    at.text_input(key="model_name").input("first")
    at.button(key="import_model").click().run()
    (job,) = api.list_jobs()
    model_id = run_job(job.id).result["model_id"]
    at.run()
    assert not [i.value for i in at.info if "queued as job" in i.value]
    assert f"Job #{job.id} (import) succeeded: model #{model_id} is ready." in [s.value for s in at.success]
    assert at.button(key="open_home_model").label == f"Open model #{model_id} first · onnx"

    _uploader(at, "Model file").upload("broken.onnx", b"not a model at all").run()
    at.button(key="import_model").click().run()
    failed = max(api.list_jobs(), key=lambda j: j.id)
    assert any(f"queued as job #{failed.id}" in i.value for i in at.info)  # while it waits, the line stays
    with pytest.raises(JobFailedError) as failure:
        run_job(failed.id)
    at.run()
    assert not [i.value for i in at.info if "queued as job" in i.value]
    assert [e.value for e in at.error] == [f"Job #{failed.id} (import) failed: {failure.value}"]
    assert str(failure.value).startswith("the file is text, not a model")  # its one sentence, as the job said it
    assert not [b for b in at.button if b.key == "open_home_model"]
