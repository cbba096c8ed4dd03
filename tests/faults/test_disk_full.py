"""A full disk under the home: said in words, nothing half-written kept. The home lives on a small tmpfs
(mounting one needs root; without it the test is skipped and says so)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.faults.conftest import assert_consistent, cli
from tests.mounts import small_tmpfs

pytestmark = pytest.mark.xdist_group("faults")


@pytest.fixture()
def small_disk(tmp_path: Path):
    with small_tmpfs(tmp_path / "small-disk", "6m") as mount:
        yield mount


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:  # unbuffered: nothing is left to flush (and fail) at close
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_import_on_a_full_disk_is_one_sentence_and_leaves_nothing(small_disk: Path, tiny_onnx: Path) -> None:
    # before: internal error (OSError: [Errno 28] No space left on device)
    home = small_disk / "home"
    assert cli(home, "migrate").returncode == 0
    filler = _fill(small_disk)
    run = cli(home, "import", str(tiny_onnx))
    assert run.returncode == 1, run.stderr
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("error: the disk holding") and "is full (No space left on device)" in line, run.stderr
    filler.unlink()
    assert_consistent(home)
    assert cli(home, "import", str(tiny_onnx)).returncode == 0  # with space again, the same import works


def test_database_or_disk_is_full_is_said_in_words(small_disk: Path) -> None:
    from engine.failures import sentence_for

    db = sqlite3.connect(small_disk / "full.db")
    db.execute("CREATE TABLE t (b BLOB)")
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full") as caught:
        for _ in range(1000):
            db.execute("INSERT INTO t VALUES (?)", (b"\0" * 65536,))
            db.commit()
    assert "is full (No space left on device); free some space" in sentence_for(caught.value)
