"""`trimline backup` / `trimline restore` through the CLI entry point, on SQLite and on PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import api
from engine.errors import InputError
from storage import migrate
from storage.db import reset_engines
from tests.app.conftest import write_tiny_onnx

pytestmark = pytest.mark.xdist_group("servers")  # real worker processes: one at a time, beside the jobs group


def trimline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=os.environ.copy(), timeout=300,
                          capture_output=True, text=True)


def _fresh_catalogue(db_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> None:  # noqa: ANN001
    """Point TRIMLINE_HOME (and, on PostgreSQL, the database) at new, empty places: another machine."""
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path / "restored-home"))
    if os.environ.get("TRIMLINE_DATABASE_URL", "").startswith("postgresql"):
        server = request.getfixturevalue("pg_server")
        monkeypatch.setenv("TRIMLINE_DATABASE_URL", server.url(server.create_database()))
    reset_engines()


def test_backup_restores_the_catalogue_and_artifacts_elsewhere_and_refuses_a_changed_file(
        db_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> None:  # noqa: ANN001
    original = write_tiny_onnx(tmp_path / "t.onnx")
    model_id = api.wait_job(api.submit_import(original, name="tiny").id).result["model_id"]
    made = trimline("backup", str(tmp_path / "bk"), "--json")
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert report["artifacts"] == 1 and report["database"]["kind"] in ("sqlite", "postgresql")
    assert set(manifest["files"]) == {report["database"]["file"], f"artifacts/{api.get_model(model_id).artifact}"}

    tampered = tmp_path / "bk-tampered"
    subprocess.run(["cp", "-r", str(tmp_path / "bk"), str(tampered)], check=True)
    artifact = tampered / "artifacts" / manifest["artifacts"][0]
    artifact.write_bytes(artifact.read_bytes()[:-1] + b"\0")

    _fresh_catalogue(db_home, tmp_path, monkeypatch, request)
    refused = trimline("restore", str(tampered))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f"error: artifacts/{manifest['artifacts'][0]} in the backup does not match its "
                                      "sha256 in the manifest; it was changed or damaged after the backup was made")
    restored = api.restore(tmp_path / "bk")  # what the CLI calls; one process start less
    assert restored["artifacts"] == 1 and restored["revision"] == migrate.head_revision()
    reset_engines()
    model = api.get_model(model_id)
    assert model.name == "tiny" and api.model_path(model_id).read_bytes() == original.read_bytes()
    with pytest.raises(InputError, match="this catalogue is not empty"):
        api.restore(tmp_path / "bk")


def test_a_sqlite_backup_restores_into_postgresql_with_its_lineage_measurements_and_ids(
        home: Path, pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    original = write_tiny_onnx(tmp_path / "t.onnx")
    root = api.wait_job(api.submit_import(original, name="tiny").id).result["model_id"]
    child = api.wait_job(api.submit_optimize(root, "onnx-optimize").job.id).result["model_id"]
    api.wait_job(api.submit_benchmark(child, {"batches": [1], "threads": [1], "time_budget_s": 0.2,
                                              "profile": False}).id)
    before = api.compare([root, child])
    jobs_before = {j.id: (j.kind, j.status) for j in api.list_jobs()}
    assert api.backup(tmp_path / "bk")["database"]["kind"] == "sqlite"

    # Outgrowing one box: a new home on another host, and an empty PostgreSQL database.
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path / "pg-home"))
    monkeypatch.setenv("TRIMLINE_DATABASE_URL", pg_server.url(pg_server.create_database()))
    reset_engines()
    restored = api.restore(tmp_path / "bk")
    reset_engines()
    assert restored["revision"] == migrate.head_revision() and restored["artifacts"] == 2
    after = api.compare([root, child])
    assert after == before  # names, lineage, sizes, the benchmark's figures and the ratios to the root
    assert after[1]["latency_p50_ms"] is not None and api.get_model(child).parent_id == root
    assert {j.id: (j.kind, j.status) for j in api.list_jobs()} == jobs_before
    assert api.model_path(root).read_bytes() == original.read_bytes()
    again = api.wait_job(api.submit_import(write_tiny_onnx(tmp_path / "u.onnx", seed=3)).id)
    assert again.id > max(jobs_before) and again.result["model_id"] > child  # ids continue after the copied ones

    # A pg_dump loads only into PostgreSQL: said in one sentence.
    api.backup(tmp_path / "bk-pg")
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path / "sqlite-home"))
    monkeypatch.delenv("TRIMLINE_DATABASE_URL")
    reset_engines()
    with pytest.raises(InputError, match=r"^the backup holds a postgresql catalogue \(a pg_dump\) but "
                                         r"TRIMLINE_DATABASE_URL is sqlite; restore it into a PostgreSQL database$"):
        api.restore(tmp_path / "bk-pg")
