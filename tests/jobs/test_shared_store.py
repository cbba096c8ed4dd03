"""Jobs on a shared artifact store: what one host stores another reads; an upload made on one host is
imported by a worker on another; a store that refuses bytes fails the job with a sentence and leaves no
row pointing at a missing artifact."""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.errors import ConfigError, InputError
from engine.jobs import service
from engine.jobs.kinds import KINDS
from engine.jobs.runner import input_paths
from storage import artifacts, catalog
from storage.db import reset_engines, session_scope
from storage.settings import get_settings
from tests.app.conftest import write_tiny_onnx
from tests.mounts import small_tmpfs
from tests.servers import Workers, wait_for


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


def test_an_unwritable_store_refuses_the_upload_with_a_sentence_and_queues_nothing(
        home: Path, s3_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMLINE_STORE_URL", "s3://no-such-bucket-trimline/models")
    artifacts._stores.clear()
    with pytest.raises(ConfigError, match=r"^the artifact store s3://no-such-bucket-trimline/models could not take "
                                          r"upload-\w+: .*; check that it is reachable, writable and has room"):
        api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx"))
    assert api.list_jobs() == [] and not any((home / "uploads").glob("*"))
    with session_scope() as s:
        assert catalog.count_models(s) == 0


def test_a_store_full_when_the_import_publishes_fails_the_job_with_a_sentence_and_stores_no_row(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with small_tmpfs(tmp_path / "shared-store", "64k") as mount:
        monkeypatch.setenv("TRIMLINE_STORE_URL", str(mount))  # a mount every host shares
        job = api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx"))
        assert artifacts.get_store().exists(job.params["staged"])
        # then the store fills up before the worker publishes
        with contextlib.suppress(OSError), (mount / "filler").open("wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)
        with pytest.raises(Exception, match=r"could not take model\.onnx: it is full"):
            service.wait(job.id, timeout_s=300)
        assert service.get(job.id).status == "failed"
        with session_scope() as s:
            assert catalog.count_models(s) == 0
        assert artifacts.relpaths() == []  # the staged upload went with the job; nothing half-published


@pytest.mark.xdist_group("servers")  # real worker processes: one at a time, beside the jobs group
@pytest.mark.parametrize("db_home", ["postgresql"], indirect=True)
def test_an_upload_staged_in_s3_is_imported_by_a_worker_on_another_host_that_reads_only_that_file(
        db_home: Path, s3_env: str, redis_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRIMLINE_QUEUE_URL", redis_server.url(2))
    original = write_tiny_onnx(tmp_path / "tiny.onnx")
    data = tmp_path / "data.npz"
    np.savez(data, x=np.random.default_rng(0).random((6, 4), dtype=np.float32), y=np.arange(6) % 3)
    api.ready()
    workers = Workers()
    try:
        worker = workers.start(tmp_path / "host-b")  # no worker shares the submitting host's home
        job = api.submit_import(original, name="tiny")
        assert set(job.params) >= {"staged"} and job.params.get("upload") is None
        assert not any((db_home / "uploads").glob("*"))  # nothing waits on this host's disk
        staged = job.params["staged"]
        assert artifacts.get_store().exists(staged)

        done = api.wait_job(job.id, timeout_s=300, run_inline=False)
        assert done.worker.split(":")[1] == str(worker.pid)
        model = api.get_model(done.result["model_id"])
        assert model.sha256 == artifacts.sha256_of(original)
        # The staged copy goes once the import has ended: the worker removes it just after it records the end.
        worker_copy = tmp_path / "host-b" / "cache" / "artifacts" / staged
        wait_for(lambda: not artifacts.get_store().exists(staged), 30, "the staged upload to leave the store")
        assert not worker_copy.exists()  # the worker's own copy went before the store's
        with pytest.raises(InputError, match="is not an upload staged in the store"):  # it would be deleted after
            service.submit("import", {"staged": model.artifact, "name": "not an upload"})

        dataset = api.wait_job(api.submit_dataset_import(data, name="six").id, timeout_s=300, run_inline=False)
        assert dataset.worker.split(":")[1] == str(worker.pid)
        assert [d.n_samples for d in api.list_datasets()] == [6]
    finally:
        workers.stop()

    # What that worker's job was given: the one file, its own checked copy of the staged upload.
    job = api.submit_import(original, name="again")
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path / "host-b"))
    reset_engines()
    kind = KINDS["import"]
    with session_scope() as s:
        spec = kind.prepare(s, job, kind.params_of(job))
    cached = get_settings().cache_dir / job.params["staged"]
    assert Path(spec["upload"]) == cached and cached.read_bytes() == original.read_bytes()
    assert input_paths(spec, get_settings()) == [cached.resolve()]
    service.cancel(job.id)
    assert not artifacts.get_store().exists(job.params["staged"]) and not cached.exists()
