"""Storage on real SQLite files and a real PostgreSQL: schema, pragmas, lineage invariants, concurrent writers."""
from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import catalog, migrate
from storage.db import get_engine, reset_engines, session_scope


def _model_fields(**extra):
    return dict(name="m", format="onnx", sha256="0" * 64, artifact="00/x/model.onnx", size_bytes=10, **extra)


def test_upgrade_creates_schema_at_head_when_database_is_new(db_home: Path) -> None:
    migrate.upgrade()
    assert migrate.current_revision() == migrate.head_revision()
    migrate.check()  # does not raise
    assert (db_home / "trimline.db").exists() == os.environ.get("TRIMLINE_DATABASE_URL", "sqlite").startswith("sqlite")


def test_check_raises_sentence_when_database_is_behind(db_home: Path) -> None:
    get_engine().connect().close()
    with pytest.raises(migrate.SchemaBehindError, match="run `trimline migrate`"):
        migrate.check()


def test_sqlite_pragmas_are_wal_busy_timeout_and_foreign_keys(home: Path) -> None:
    migrate.upgrade()
    with get_engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_child_model_inherits_root_and_root_is_its_own_root(db_home: Path) -> None:
    migrate.upgrade()
    with session_scope() as s:
        root = catalog.add_model(s, **_model_fields())
        child = catalog.add_model(s, **_model_fields(parent_id=root.id, pass_name="fp16", derivation_key="k1"))
        grandchild = catalog.add_model(s, **_model_fields(parent_id=child.id, pass_name="fp16", derivation_key="k2"))
    assert root.root_id == root.id
    assert child.root_id == grandchild.root_id == root.id
    with session_scope() as s:
        assert [m.id for m in catalog.children(s, root.id)] == [child.id]
        assert catalog.find_derived(s, "k2").id == grandchild.id


def test_constraints_refuse_bad_format_and_half_derivations(db_home: Path) -> None:
    migrate.upgrade()
    with pytest.raises(IntegrityError, match="model_format"):
        with session_scope() as s:
            catalog.add_model(s, **{**_model_fields(), "format": "pickle"})
    with pytest.raises(IntegrityError, match="model_derivation"):
        with session_scope() as s:
            catalog.add_model(s, **_model_fields(pass_name="fp16"))
    with session_scope() as s:
        assert catalog.count_models(s) == 0


def test_derivation_key_is_unique(db_home: Path) -> None:
    migrate.upgrade()
    with session_scope() as s:
        root = catalog.add_model(s, **_model_fields())
        catalog.add_model(s, **_model_fields(parent_id=root.id, pass_name="fp16", derivation_key="same"))
    with pytest.raises(IntegrityError):
        with session_scope() as s:
            catalog.add_model(s, **_model_fields(parent_id=root.id, pass_name="fp16", derivation_key="same"))


def _writer(env: dict[str, str], n: int, queue) -> None:  # noqa: ANN001
    os.environ.update(env)
    reset_engines()
    errors = 0
    for i in range(n):
        try:
            with session_scope() as s:
                s.execute(text("INSERT INTO workers (id, pid, host, started_at, heartbeat_at) "
                               "VALUES (:id, :pid, 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                          {"id": f"{os.getpid()}-{i}", "pid": os.getpid()})
        except Exception:
            errors += 1
    queue.put(errors)


def test_eight_concurrent_writers_lose_nothing_and_never_see_database_locked(db_home: Path) -> None:
    migrate.upgrade()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    env = {k: v for k, v in os.environ.items() if k.startswith("TRIMLINE_")}
    procs = [ctx.Process(target=_writer, args=(env, 500, queue)) for _ in range(8)]
    for p in procs:
        p.start()
    polls = 0
    while any(p.is_alive() for p in procs):  # a reader polling the whole time, like the dashboard
        with session_scope() as s:
            s.execute(text("SELECT count(*) FROM workers")).scalar()
        polls += 1
    for p in procs:
        p.join()
    errors = [queue.get() for _ in procs]
    with session_scope() as s:
        total = s.execute(text("SELECT count(*) FROM workers")).scalar()
    assert errors == [0] * 8
    assert total == 8 * 500
    assert polls > 0


def test_choosing_a_new_champion_replaces_model_note_and_time(db_home: Path) -> None:
    import time

    migrate.upgrade()
    with session_scope() as s:
        root = catalog.add_model(s, **_model_fields())
        child = catalog.add_model(s, **_model_fields(parent_id=root.id, pass_name="fp16", derivation_key="c"))
        first = catalog.set_champion(s, root.id, root.id, "baseline")
    time.sleep(0.01)
    with session_scope() as s:
        second = catalog.set_champion(s, root.id, child.id, "int8 wins")
    with session_scope() as s:
        stored = catalog.get_champion(s, root.id)
    assert (stored.model_id, stored.note) == (child.id, "int8 wins")
    assert stored.chosen_at == second.chosen_at > first.chosen_at


@pytest.mark.parametrize("db_home", ["postgresql"], indirect=True)
def test_postgresql_is_driven_by_psycopg3_with_the_same_named_constraints(db_home: Path) -> None:
    migrate.upgrade()
    engine = get_engine()
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE contype = 'c'").all()}
    assert {"model_format", "model_derivation", "job_status", "job_kind", "job_progress", "measurement_kind"} <= names
