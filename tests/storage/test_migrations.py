"""Migrations keep what is stored: a populated database upgraded to head loses no row and no link."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from storage import migrate
from storage.db import get_engine
from storage.settings import get_settings
from storage.tables import Base


def _database_at(revision: str) -> str:
    """The URL of this test's database, migrated only as far as ``revision`` (to fill it as an older Trimline
    would have), and committed."""
    url = get_settings().database_url
    cfg = migrate._config(url)
    with get_engine(url).connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
    return url


def test_upgrade_of_a_populated_database_keeps_rows_and_links(home: Path) -> None:
    url = _database_at("0001")
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO models (id, name, format, sha256, artifact, size_bytes, config, inputs, outputs,"
                          " info, metrics, created_at, root_id) VALUES (1, 'm', 'onnx', :s, 'a', 1, '{}', '[]', '[]',"
                          " '{}', '{}', '2026-01-01', 1)"), {"s": "0" * 64})
        conn.execute(text("INSERT INTO jobs (id, kind, status, params, progress, message, attempts, max_attempts,"
                          " timeout_s, cancel_requested, created_at) VALUES (7, 'benchmark', 'succeeded', '{}', 1,"
                          " '', 1, 2, 60, 0, '2026-01-01')"))
        conn.execute(text("INSERT INTO measurements (model_id, job_id, kind, summary, samples, created_at) VALUES"
                          " (1, 7, 'benchmark', '{}', '{}', '2026-01-01')"))
    migrate.upgrade(url)  # later revisions rebuild tables that other rows point at
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT model_id, job_id FROM measurements")).all() == [(1, 7)]
        assert conn.execute(text("SELECT count(*) FROM models")).scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_schema_after_migrations_matches_the_tables(home: Path) -> None:
    migrate.upgrade()
    with get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if d[0] not in ("add_fk", "remove_fk")] == []


def test_champion_history_keeps_names_through_0006_and_new_events_follow(db_home: Path) -> None:
    url = _database_at("0005")
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO models (id, name, format, sha256, artifact, size_bytes, config, inputs, outputs,"
                          " info, metrics, created_at, root_id, tags, archived) VALUES (1, 'digits', 'onnx', :s, 'a', 1,"
                          " '{}', '[]', '[]', '{}', '{}', '2026-01-01', 1, '[]', false)"), {"s": "0" * 64})
        conn.execute(text("INSERT INTO champion_events (id, root_id, model_id, action, note, who, figures, at) VALUES"
                          " (5, 1, 1, 'promote', 'first', 'ana', '{}', '2026-01-02')"))
    migrate.upgrade(url)
    from storage import history
    from storage.db import session_scope

    with session_scope(url) as s:
        (old,) = history.champion_events(s, 1)
        new = history.add_champion_event(s, 1, 1, "demote", "second", "ben")
    assert (old["id"], old["family_name"], old["model_name"], old["who"]) == (5, "digits", "digits", "ana")
    assert new["id"] == 6  # the id sequence follows the copied rows
    with get_engine(url).begin() as conn:
        conn.execute(text("DELETE FROM models WHERE id = 1"))
    with session_scope(url) as s:
        assert history.champion_events(s, 1) == []
        assert [(e["root_id"], e["family_name"], e["note"]) for e in history.deleted_family_events(s)] == [
            (1, "digits", "second"), (1, "digits", "first")]
