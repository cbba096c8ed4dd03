"""Every failure of the environment or of out-of-range input is one sentence (`error: ...`, exit 1)."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.faults.conftest import assert_consistent, cli

pytestmark = pytest.mark.xdist_group("faults")


def refused(home: Path, *args: str, **extra: str) -> str:
    run = cli(home, *args, **extra)
    assert run.returncode == 1, (run.stdout, run.stderr)
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "internal error" not in line, run.stderr
    return line


def test_damaged_database_file_says_what_to_do(tmp_path: Path) -> None:
    # before: internal error (DatabaseError: file is not a database); the worker refused to start
    home = tmp_path / "home"
    home.mkdir()
    (home / "trimline.db").write_bytes(b"this is not a database" * 500)
    for verb in (["models"], ["worker"]):
        line = refused(home, *verb)
        assert "the database file is damaged (file is not a database)" in line and "trimline migrate" in line


def test_damaged_queue_file_is_set_aside_and_work_goes_on(tmp_path: Path, tiny_onnx: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "queue.db").write_bytes(b"\x00garbage" * 1000)
    run = cli(home, "import", str(tiny_onnx))
    assert run.returncode == 0, run.stderr
    assert len(list(home.glob("queue.db.damaged-*"))) == 1
    assert_consistent(home)


def test_ids_paths_and_destinations_beyond_limits(imported: tuple[Path, int], tmp_path: Path) -> None:
    home, model_id = imported
    assert refused(home, "show", "99999999999999999999") == "error: model 99999999999999999999 does not exist"
    long_path = "/tmp/" + "a" * 5000 + ".onnx"
    assert "(File name too long)" in refused(home, "import", long_path)
    line = refused(home, "export", str(model_id), "--format", "onnx", "-o", "/proc/x.onnx")
    assert line.startswith("error: cannot write the export to /proc/x.onnx (")
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    assert "is not a regular file" in refused(home, "import", str(fifo))  # before: hung forever
    assert_consistent(home)


def test_benchmark_grid_is_bounded_before_queueing(imported: tuple[Path, int]) -> None:
    home, model_id = imported
    assert "batch 2000000 is beyond what a latency measurement means" in refused(
        home, "benchmark", str(model_id), "--batch", "2000000")
    assert "more than half the job's memory limit of 4 MB" in refused(home, "benchmark", str(model_id), "--batch",
                                                                         "60000", TRIMLINE_JOB_MEMORY_MB="4")
    assert f"more than this machine's {os.cpu_count()} cores" in refused(home, "benchmark", str(model_id),
                                                                          "--threads", "256")
    assert "client threads" in refused(home, "benchmark", str(model_id), "--concurrency", "500")
    assert [j["kind"] for j in __import__("tests.faults.conftest", fromlist=["jobs"]).jobs(home)] == ["import"]


def test_unusable_settings_name_the_variable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert "TRIMLINE_JOB_TIMEOUT_S" in refused(home, "models", TRIMLINE_JOB_TIMEOUT_S="abc")
    assert "TRIMLINE_JOB_MEMORY_MB" in refused(home, "models", TRIMLINE_JOB_MEMORY_MB="-5")


def test_schema_problems_are_found_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "migrate").returncode == 0
    db = home / "trimline.db"
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE models DROP COLUMN tags")  # stamped at head, a column gone
    line = refused(home, "models")
    assert "lacks column models.tags" in line and "restore it from a backup" in line
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE alembic_version")  # tables, but no revision
    assert "no schema revision (no alembic_version)" in refused(home, "models")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    assert "revision 9999, newer than this Trimline knows" in refused(home, "models")
