"""Named accounts: argon2 hashes in the database, sign-in by account on the page, roles that narrow what a
viewer can do, and the `trimline users` verbs."""
from __future__ import annotations

import os
import subprocess

from engine import api
from tests.app.apphelp import by_label
from tests.cli.test_cli import TRIMLINE


def test_passwords_are_hashed_and_checked_with_argon2(home):
    api.add_user("ana", "correct horse battery", "engineer")
    from storage.db import session_scope
    from storage.tables import User

    with session_scope() as s:
        stored = s.query(User).one().password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert api.verify_user("ana", "correct horse battery") == "engineer"
    assert api.verify_user("ana", "correct horse batterY") is None and api.verify_user("bob", "x" * 12) is None


def test_a_viewer_signs_in_by_account_and_cannot_run_jobs(page, imported):
    api.add_user("vic", "viewer password 1", "viewer")
    at = page("home")
    assert at.text_input(key="login_account") and not at.get("plotly_chart")
    at.text_input(key="login_account").input("vic")
    at.text_input(key="login_password").input("wrong password")
    by_label(at.button, "Sign in").click().run()
    assert [e.value for e in at.error] == ["That password is not right."]
    at.text_input(key="login_password").input("viewer password 1")
    by_label(at.button, "Sign in").click().run()
    assert (at.session_state["user"], at.session_state["role"]) == ("vic", "viewer")
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert any("signed in as a viewer" in c.value for c in at.caption)
    assert "Benchmark" not in [b.label for b in at.button]


def test_jobs_record_the_account_that_submitted_them(page, imported):
    api.add_user("eng", "engineer password", "engineer")
    at = page("home")
    at.text_input(key="login_account").input("eng")
    at.text_input(key="login_password").input("engineer password")
    by_label(at.button, "Sign in").click().run()
    at.switch_page("app_pages/models.py").run()
    by_label(at.button, "Benchmark").click().run()
    assert not at.error, [e.value for e in at.error]
    newest = api.list_jobs()[0]
    assert (newest.kind, newest.submitted_by) == ("benchmark", "eng")
    at.switch_page("app_pages/jobs.py").run()
    assert list(at.dataframe[0].value["by"])[0] == "eng"


def test_users_verbs_add_list_and_remove_accounts(tmp_path):
    env = {**os.environ, "TRIMLINE_HOME": str(tmp_path / "home"), "TRIMLINE_NEW_PASSWORD": "a long passphrase"}
    env.pop("TRIMLINE_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([TRIMLINE, "users", *args], env=env, capture_output=True, text=True, timeout=300)

    assert run("add", "ana", "--role", "admin").returncode == 0
    listed = run("list").stdout
    assert listed.startswith("ana") and "admin" in listed
    refused = run("add", "ben", "--role", "owner")
    assert refused.returncode == 1 and refused.stderr.strip() == "error: a role is one of viewer, engineer, admin, not 'owner'"
    assert run("add", "ben", "--role", "viewer").returncode == 0
    changed = run("role", "ben", "engineer")
    assert changed.returncode == 0 and changed.stdout.strip() == "account ben is now engineer"
    assert run("rm", "ben").returncode == 0
    assert run("rm", "ana").returncode == 0 and "no accounts" in run("list").stdout


def test_accounts_exist_here_creates_no_database(home):
    assert api.accounts_exist_here() is False and not (home / "trimline.db").exists()
    api.add_user("ana", "correct horse battery", "admin")
    assert api.accounts_exist_here() is True


def test_whether_sign_in_is_needed_is_read_from_the_database_the_settings_name(home, tmp_path, monkeypatch):
    """The few-second memory of "accounts exist" belongs to one database: pointed at another (a second studio
    in the same process, or the next test's home), the dashboard asks that one at once instead of showing a
    sign-in form the new database has no account for."""
    from app import auth
    from storage.db import reset_engines

    api.add_user("ana", "correct horse battery", "engineer")
    assert auth.accounts_exist() and auth.login_required()
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path / "second home"))
    reset_engines()
    assert not auth.accounts_exist() and not auth.login_required()
