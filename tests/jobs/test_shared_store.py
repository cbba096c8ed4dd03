"""Jobs on a shared artifact store: what one host stores another reads; a store that refuses bytes
fails the job with a sentence and leaves no row pointing at a missing artifact."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import api
from engine.jobs import service
from storage import artifacts, catalog
from storage.db import reset_engines, session_scope
from tests.app.conftest import write_tiny_onnx


@pytest.fixture()
def s3_env(s3_server, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: ANN001
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    url = f"s3://{s3_server.create_bucket()}/trimline"
    monkeypatch.setenv("TRIMLINE_STORE_URL", url)
    artifacts._stores.clear()
    yield url
    artifacts._stores.clear()


@pytest.mark.parametrize("db_home", ["postgresql"], indirect=True)
def test_a_model_stored_by_one_host_is_exported_by_another_through_s3(
        db_home: Path, s3_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imported = service.wait(api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx")).id, timeout_s=300)
    model_id = imported.result["model_id"]
    relpath = api.get_model(model_id).artifact
    assert artifacts.get_store().exists(relpath)
    assert not (db_home / "artifacts").exists()  # nothing went to the local folder

    # A second host: its own TRIMLINE_HOME (scratch, cache, logs), the same database and store.
    other = tmp_path / "host-b"
    monkeypatch.setenv("TRIMLINE_HOME", str(other))
    reset_engines()
    exported = service.wait(api.submit_export(model_id, "onnx").id, timeout_s=300)
    assert exported.status == "succeeded"
    assert (other / "cache" / "artifacts" / relpath).read_bytes() == (tmp_path / "tiny.onnx").read_bytes()
    assert api.export_path(exported).read_bytes() == (tmp_path / "tiny.onnx").read_bytes()


def test_an_unwritable_store_fails_the_import_with_a_sentence_and_stores_no_row(
        home: Path, s3_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMLINE_STORE_URL", "s3://no-such-bucket-trimline/models")
    artifacts._stores.clear()
    job = api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx"))
    with pytest.raises(Exception, match=r"the artifact store s3://no-such-bucket-trimline/models could not take"):
        service.wait(job.id, timeout_s=300)
    assert service.get(job.id).status == "failed"
    with session_scope() as s:
        assert catalog.count_models(s) == 0
