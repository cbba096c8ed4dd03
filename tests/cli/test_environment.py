"""A bad environment stops every entry point with one sentence naming what to fix, and exit code 1."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import TRIMLINE, cli

pytestmark = pytest.mark.xdist_group("cli")

# root writes anywhere: without these capabilities it obeys a folder's mode like any user (util-linux)
AS_A_USER = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def run(env: dict[str, str], *args: str, prefix: list[str] = ()) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRIMLINE_")}
    return subprocess.run([*prefix, TRIMLINE, *args], env={**base, **env}, capture_output=True, text=True,
                          timeout=300)


def one_sentence(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "internal error" not in lines[0] and "Traceback" not in proc.stderr
    return lines[0]


def test_home_that_is_a_file_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    line = one_sentence(run({"TRIMLINE_HOME": str(home)}, "models"))
    assert line == f"error: TRIMLINE_HOME points at a file ({home}), not a folder; point it at a folder"


def test_home_this_user_cannot_write_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    line = one_sentence(run({"TRIMLINE_HOME": str(home)}, "models", prefix=AS_A_USER))
    assert line == (f"error: Trimline cannot write in TRIMLINE_HOME ({home}): permission denied; point it at a "
                    "folder this user can write")


def test_database_that_cannot_connect_is_named_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://trimline:s3cret@127.0.0.1:1/trimline"  # port 1: nothing listens there
    line = one_sentence(run({"TRIMLINE_HOME": str(tmp_path / "home"), "TRIMLINE_DATABASE_URL": url}, "jobs"))
    assert line.startswith("error: Trimline cannot open the database at postgresql://trimline:***@127.0.0.1:1/trimline (")
    assert line.endswith("); check TRIMLINE_DATABASE_URL") and "s3cret" not in line


def test_setting_with_an_unusable_value_is_named(tmp_path: Path) -> None:
    line = one_sentence(run({"TRIMLINE_HOME": str(tmp_path / "home"), "TRIMLINE_JOB_TIMEOUT_S": "soon"}, "models"))
    assert line.startswith("error: TRIMLINE_JOB_TIMEOUT_S is set to 'soon': input should be a valid number")


def test_without_auto_migration_a_database_behind_is_refused_until_migrated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TRIMLINE_HOME": str(home), "TRIMLINE_AUTO_MIGRATE": "0"}
    line = one_sentence(run(env, "models"))
    assert line.startswith("error: the database is at revision none but this Trimline needs ")
    assert "run `trimline migrate`" in line
    assert cli(home, "migrate").stdout.startswith("database at revision ")
    assert run(env, "models", "--json").stdout.strip() == "[]"
