"""Champion history outlives the models it names (on a real SQLite file), and roles are enforced by the engine
whatever a page shows: admins manage people from the People page, viewers and engineers are refused in words."""
from __future__ import annotations

import sqlite3

import pytest

from engine import api
from engine.errors import AccessError
from tests.app.apphelp import by_label
from tests.app.conftest import run_job, write_tiny_onnx


def test_champion_history_survives_deleting_the_champion_and_the_familys_root(home, imported, tmp_path):
    child = run_job(api.submit_optimize(imported, "onnx-optimize", {"level": "basic"}).job.id).result["model_id"]
    api.set_champion(imported, "baseline", who="ana")
    api.set_champion(child, "leaner graph", who="ben")

    api.delete_model(child, who="cat")  # the champion itself: its mark ends with a demotion on record
    history = api.champion_history(imported)
    assert [(e["action"], e["model_id"], e["who"]) for e in history] == [
        ("demote", child, "cat"), ("promote", child, "ben"), ("demote", imported, "ben"), ("promote", imported, "ana")]
    assert history[1]["deleted"] and history[1]["model_name"].startswith("tiny")

    api.delete_model(imported, who="cat")  # the root: the family is gone, what was decided is not
    with sqlite3.connect(home / "trimline.db") as db:  # the file itself, not a cached session
        kept = db.execute("SELECT root_id, root_ref, family_name, model_ref, who, note FROM champion_events "
                          "ORDER BY id").fetchall()
    assert kept == [(None, imported, "tiny", imported, "ana", "baseline"),
                    (None, imported, "tiny", imported, "ben", "replaced by #%d" % child),
                    (None, imported, "tiny", child, "ben", "leaner graph"),
                    (None, imported, "tiny", child, "cat", "model #%d was deleted" % child)]
    gone = api.deleted_families_history()
    assert [(e["root_id"], e["family_name"], e["action"], e["who"]) for e in gone][-1] == (imported, "tiny",
                                                                                           "promote", "ana")
    assert gone[1]["figures"]["size_bytes"] > 0 and "note" in gone[1]

    again = run_job(api.submit_import(write_tiny_onnx(tmp_path / "again.onnx", seed=4), name="again").id)
    assert api.champion_history(again.result["model_id"]) == []  # a reused id inherits nothing


def _sign_in(page, account: str, password: str, to: str = "home"):
    at = page("home")
    at.text_input(key="login_account").input(account)
    at.text_input(key="login_password").input(password)
    by_label(at.button, "Sign in").click().run()
    assert at.session_state["user"] == account, [e.value for e in at.error]
    if to != "home":
        at.switch_page(f"app_pages/{to}.py").run()
    return at


def test_an_admin_adds_changes_and_removes_accounts_on_the_people_page(page, home):
    api.add_user("root", "admin password 1", "admin")
    at = _sign_in(page, "root", "admin password 1", "people")
    assert not at.exception and at.title[0].value == "People"
    at.text_input(key="new_account").input("vic")
    at.text_input(key="new_password").input("viewer password 1")
    at.selectbox(key="new_role").select("viewer")
    by_label(at.button, "Add account").click().run()
    assert not at.error, [e.value for e in at.error]
    assert {(u["name"], u["role"]) for u in api.list_users()} == {("root", "admin"), ("vic", "viewer")}

    at.selectbox(key="change_account_name").select("vic")
    at.selectbox(key="change_account_role").select("engineer")
    by_label(at.button, "Change role").click().run()
    assert api.user_role("vic") == "engineer"
    at.selectbox(key="change_account_name").select("root")
    at.selectbox(key="change_account_role").select("viewer")
    by_label(at.button, "Change role").click().run()
    assert [e.value for e in at.error] == ["you cannot change your own role; ask another admin"]

    at.selectbox(key="change_account_name").select("vic")
    by_label(at.button, "Remove account").click().run()
    assert [e.value for e in at.error] == ["Tick “Yes, remove this account” first."]
    at.checkbox(key="remove_confirm").check()
    by_label(at.button, "Remove account").click().run()
    assert [u["name"] for u in api.list_users()] == ["root"]
    trail = at.dataframe[1].value  # the accounts, then the audit trail
    assert list(trail["action"])[:3] == ["remove user", "change role", "add user"] and set(trail["who"][:3]) == {"root"}


def test_roles_are_enforced_by_the_engine_not_only_by_hidden_buttons(page, imported):
    api.add_user("vic", "viewer password 1", "viewer")
    api.add_user("eve", "engineer password", "engineer")
    at = _sign_in(page, "vic", "viewer password 1")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/people.py")  # not in a viewer's navigation

    api.require_sign_in(True)  # as the dashboard says when people sign in
    try:
        api.set_actor(None)
        with pytest.raises(AccessError, match="^sign in to run benchmark jobs$"):
            api.submit_benchmark(imported, {"batches": [1], "threads": [1]})
        api.set_actor("vic")
        with pytest.raises(AccessError, match="^vic is a viewer; only an engineer or an admin can run benchmark jobs$"):
            api.submit_benchmark(imported, {"batches": [1], "threads": [1]})
        with pytest.raises(AccessError, match="can choose a champion$"):
            api.set_champion(imported, "mine")
        with pytest.raises(AccessError, match="can serve models$"):
            api.serving.plan([imported])
        assert api.submit_export(imported, "onnx").kind == "export"  # downloading is a viewer's right
        api.set_actor("eve")
        assert api.submit_benchmark(imported, {"batches": [1], "threads": [1]}).submitted_by == "eve"
        with pytest.raises(AccessError, match="^eve is an engineer; only an admin can delete models$"):
            api.delete_model(imported)
        with pytest.raises(AccessError, match="only an admin can manage accounts$"):
            api.add_user("mal", "some password 12", "admin")
        api.set_actor("team")  # the shared password's account
        api.set_role("eve", "viewer")
        api.set_actor("eve")  # a changed role holds from the next action on
        with pytest.raises(AccessError, match="^eve is a viewer;"):
            api.cancel_job(api.list_jobs()[0].id)
    finally:
        api.set_actor(None)
        api.require_sign_in(False)
