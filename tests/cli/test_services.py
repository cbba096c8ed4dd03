"""Configured services through the CLI entry point: `trimline doctor` checks each one; a worker pointed at
an unreachable database or queue, or at a schema it does not match, refuses to start with one sentence;
outages while a worker runs cost time, not jobs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import api
from engine.jobs import service
from storage import migrate
from storage.db import get_engine, reset_engines
from tests.app.conftest import write_tiny_onnx
from tests.servers import Workers, free_port

pytestmark = pytest.mark.xdist_group("servers")  # real worker processes: one at a time, beside the jobs group


def trimline(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env={**os.environ, **env}, timeout=timeout,
                          capture_output=True, text=True)


@pytest.fixture()
def pg_env(home: Path, pg_server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # noqa: ANN001
    env = {"TRIMLINE_HOME": str(home), "TRIMLINE_DATABASE_URL": pg_server.url(pg_server.create_database())}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_engines()
    yield env
    reset_engines()


def test_doctor_prints_one_line_per_configured_service(pg_env: dict[str, str], redis_server, s3_server) -> None:  # noqa: ANN001
    env = {**pg_env, **s3_server.env(), "TRIMLINE_QUEUE_URL": redis_server.url(),
           "TRIMLINE_STORE_URL": f"s3://{s3_server.create_bucket()}/store"}
    done = trimline("doctor", "--json", env=env)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["database"]["ok"] and f"migrated to revision {migrate.head_revision()}" in checks["database"]["detail"]
    assert checks["queue"] == {"name": "queue", "ok": True, "detail": f"{redis_server.url()} answers"}
    assert checks["artifact store"]["ok"] and "is writable" in checks["artifact store"]["detail"]
    assert checks["library versions"]["ok"] and "onnxruntime 1.32.0" in checks["library versions"]["detail"]



def test_a_store_that_cannot_be_written_is_one_failing_check(home: Path, s3_server,  # noqa: ANN001
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import services
    from engine.errors import ConfigError
    from storage import artifacts

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRIMLINE_STORE_URL", "s3://no-such-bucket-trimline/store")
    artifacts._stores.clear()
    with pytest.raises(ConfigError, match=r"^the artifact store s3://no-such-bucket-trimline/store cannot be written: "
                                          r".*; check TRIMLINE_STORE_URL and its credentials$"):
        services.check_store(api.settings())
    artifacts._stores.clear()


def test_unreachable_database_or_queue_stops_a_worker_with_one_masked_sentence(home: Path) -> None:
    port = free_port()  # nothing listens there
    db = trimline("worker", env={"TRIMLINE_HOME": str(home),
                                 "TRIMLINE_DATABASE_URL": f"postgresql://trim:s3cret@127.0.0.1:{port}/cat"})
    assert db.returncode == 1
    assert db.stderr.startswith(f"error: Trimline cannot open the database at postgresql://trim:***@127.0.0.1:{port}/cat")
    assert "s3cret" not in db.stderr and len(db.stderr.strip().splitlines()) == 1

    queue = trimline("worker", env={"TRIMLINE_HOME": str(home), "TRIMLINE_QUEUE_URL": f"redis://:hunter2@127.0.0.1:{port}/0"})
    assert queue.returncode == 1
    assert queue.stderr.startswith(f"error: Trimline cannot reach the queue at redis://:***@127.0.0.1:{port}/0 (")
    assert "hunter2" not in queue.stderr and len(queue.stderr.strip().splitlines()) == 1


def test_a_worker_refuses_a_schema_it_does_not_match_and_names_the_migration(pg_env: dict[str, str]) -> None:
    migrate.upgrade()
    with get_engine().begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")  # as if 0002 had never run
    behind = trimline("worker", env={**pg_env, "TRIMLINE_AUTO_MIGRATE": "0"})
    assert behind.returncode == 1
    assert "missing migrations 0002 (workers on many hosts" in behind.stderr and "trimline migrate" in behind.stderr
    with get_engine().begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0999'")  # a newer release migrated it
    ahead = trimline("worker", env=pg_env)
    assert ahead.returncode == 1
    assert "the database is at revision 0999, newer than this Trimline knows" in ahead.stderr


def test_database_and_queue_outages_while_a_worker_runs_delay_jobs_but_fail_none(
        pg_env: dict[str, str], pg_server, redis_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    env = {**pg_env, "TRIMLINE_QUEUE_URL": redis_server.url(1)}
    monkeypatch.setenv("TRIMLINE_QUEUE_URL", env["TRIMLINE_QUEUE_URL"])
    model_id = api.wait_job(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx")).id).result["model_id"]
    workers = Workers()
    worker = workers.start(Path(env["TRIMLINE_HOME"]), env=env)
    try:
        redis_server.pause()  # the queue goes away: submitting still writes the row, the worker's sweep finds it
        during = api.submit_export(model_id, "onnx")
        assert api.wait_job(during.id, timeout_s=120, run_inline=False).status == "succeeded"
        redis_server.resume()
        pg_server.pause()  # then the database restarts under the idle worker
        time.sleep(4)
        pg_server.resume()
        reset_engines()
        after = api.submit_export(model_id, "onnx")
        assert api.wait_job(after.id, timeout_s=120, run_inline=False).worker.split(":")[1] == str(worker.pid)
        assert worker.poll() is None
        assert [j.status for j in api.list_jobs()].count("failed") == 0
    finally:
        if redis_server.proc.poll() is not None:
            redis_server.resume()
        if pg_server.proc.poll() is not None:
            pg_server.resume()
        workers.stop()


def _dashboard_healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_up_on_a_port_still_held_names_the_holder_and_waits_for_it(home: Path) -> None:
    # before: the dashboard failed to bind five times and `up` gave up with "the dashboard keeps stopping"
    import signal
    import socket

    port = free_port()
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", port))
    held.listen()
    holder = api.wait_for_port("127.0.0.1", port, timeout_s=0.3)  # held all along: who holds it
    assert holder is not None and holder.startswith(f"process {os.getpid()} ("), holder  # this test's own process
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIMLINE_")}
    up = subprocess.Popen([sys.executable, "-m", "engine.cli", "up", "--port", str(port)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env={**env, "TRIMLINE_HOME": str(home)},
                          start_new_session=True)
    try:
        time.sleep(4)  # a `trimline up` still stopping holds the port this long
        assert up.poll() is None
        held.close()
        deadline = time.monotonic() + 120
        while not _dashboard_healthy(port) and time.monotonic() < deadline and up.poll() is None:
            time.sleep(0.5)
        assert _dashboard_healthy(port)
        os.killpg(up.pid, signal.SIGINT)
        _, err = up.communicate(timeout=60)
    finally:
        held.close()
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    assert f"port {port} on 127.0.0.1 is held by process {os.getpid()} (" in err
    assert "waiting for it to be free" in err and "keeps stopping" not in err and "stopped (exit code" not in err
