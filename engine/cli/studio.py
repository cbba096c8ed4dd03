"""Running the studio: the dashboard with its workers, a worker alone, migrations, the doctor."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from engine.cli.base import JsonOpt, app, command, emit, fail


MAX_RESTARTS_PER_MIN = 5


# ---------------------------------------------------------------- running the studio
@command(app, "up")
def up(host: str = typer.Option("127.0.0.1", help="Address the dashboard binds to."),
       port: Optional[int] = typer.Option(None, help="Dashboard port (default: env PORT, else 8501)."),
       workers: int = typer.Option(1, help="Worker processes to start."),
       no_login: bool = typer.Option(False, "--insecure-no-login",
                                     help="Serve beyond this machine without a password (not recommended).")) -> None:
    """Migrate, start worker(s) and the dashboard; Ctrl-C stops all."""
    from engine import api

    root = Path(__file__).resolve().parents[2]
    password = api.team_password(api.read_secrets())  # a blank or short password is refused here
    if host not in api.LOOPBACK_HOSTS and not no_login and password is None and not api.accounts_exist_here():
        fail(f"refusing to serve on {host} without a login; set TRIMLINE_PASSWORD (or [auth] password in "
             ".streamlit/secrets.toml), add accounts with `trimline users add`, or bind to 127.0.0.1")
    api.ready()
    port = port or api.settings().port
    _wait_for_port(api, host, port)
    worker_cmd = [sys.executable, "-m", "engine.cli", "worker"]
    dashboard_cmd = [sys.executable, "-m", "streamlit", "run", str(root / "app" / "server.py"),
                     "--server.address", host, "--server.port", str(port), "--server.headless", "true",
                     "--browser.gatherUsageStats", "false"]
    base_env = {**os.environ, **api.harden_process()}  # secrets leave this environment; only these children get them
    dashboard_env = {**base_env, "TRIMLINE_BIND_HOST": host}
    procs = {f"worker {n + 1}": (worker_cmd, base_env) for n in range(workers)} | {"dashboard": (dashboard_cmd, dashboard_env)}
    api.serving.own_servers()  # models served from the dashboard stop with this command
    running = {name: subprocess.Popen(cmd, cwd=root, env=env) for name, (cmd, env) in procs.items()}
    typer.echo(f"Trimline is starting on http://{host}:{port}  (Ctrl-C stops it)", err=True)
    hurry = threading.Event()

    def _stop(signum, frame):  # noqa: ANN001  (SIGTERM stops everything, like Ctrl-C)
        raise KeyboardInterrupt

    def _hurry(signum, frame):  # noqa: ANN001  (a second Ctrl-C while stopping: kill what is left now)
        hurry.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background, where SIGINT arrives ignored
    restarts: list[float] = []
    try:
        while True:
            time.sleep(1.0)
            for name, proc in running.items():
                if proc.poll() is None:
                    continue
                if name == "dashboard":
                    _wait_for_port(api, host, port)  # another process took its port: not a crash to count
                # One part stopping never takes the others down: a worker keeps its running job when the
                # page server dies, and a dead worker's job is re-queued by the next one's reaper.
                restarts = [t for t in restarts if t > time.monotonic() - 60] + [time.monotonic()]
                if len(restarts) > MAX_RESTARTS_PER_MIN:
                    fail(f"the {name} keeps stopping (exit code {proc.returncode}); see its output above")
                typer.echo(f"the {name} stopped (exit code {proc.returncode}); starting it again", err=True)
                cmd, env = procs[name]
                running[name] = subprocess.Popen(cmd, cwd=root, env=env)
    except KeyboardInterrupt:
        pass
    finally:
        # Everything stops at once, within a few seconds: the servers started from the Deploy page and this
        # command's worker(s) and dashboard (which got Ctrl-C from the terminal already).
        signal.signal(signal.SIGTERM, _hurry)
        signal.signal(signal.SIGINT, _hurry)
        began = time.monotonic()
        typer.echo("stopping Trimline...", err=True)
        for proc in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # a worker hands its running job back to the queue, then exits
        for served in api.serving.stop_owned_servers():
            typer.echo(f"stopped serving '{served}'", err=True)
        stopped = api.stop_processes({("the dashboard" if n == "dashboard" else n): p for n, p in running.items()},
                                     hurry)
        typer.echo(f"stopped {_listing(stopped)} in {time.monotonic() - began:.1f} s", err=True)


def _wait_for_port(api, host: str, port: int) -> None:  # noqa: ANN001
    """Before the dashboard starts: its port must be free. A ``trimline up`` that is still stopping frees it within
    seconds, so wait that long; a port held longer fails with the process that holds it."""
    holder = api.port_holder(host, port)
    if holder is None:
        return
    typer.echo(f"port {port} on {host} is held by {holder}; waiting for it to be free", err=True)
    holder = api.wait_for_port(host, port)
    if holder is not None:
        fail(f"port {port} on {host} is held by {holder}; stop that or start on another port with --port")


def _listing(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names) or "nothing"


@command(app, "worker")
def worker(threads: int = typer.Option(1, help="Jobs run at once by this worker."),
           label: list[str] = typer.Option([], "--label", help="A name jobs can target, e.g. edge (repeatable).")) -> None:
    """Run a worker only (one per benchmark host when scaling out)."""
    import logging

    from engine import api

    api.harden_process()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a refusal at start stays one line
    api.run_worker(threads=threads, labels=label)


@command(app, "workers")
def workers(as_json: bool = JsonOpt) -> None:
    """Live workers: host, labels, hardware fingerprint, last heartbeat and the job each runs."""
    from engine import api

    api.ready()
    rows = api.list_workers()
    emit(rows, as_json, lambda rs: "\n".join(
        f"{w['id']}  labels={','.join(w['labels']) or '-'}  fingerprint={(w['fingerprint'] or '')[:12]}  "
        f"job={w['job'] or '-'}" + (f"  ({w['note']})" if w['note'] else "") for w in rs) or "no live workers")


@command(app, "backup")
def backup(path: Path = typer.Argument(..., help="A new folder for the backup."), as_json: bool = JsonOpt) -> None:
    """Copy the catalogue (consistently, while workers run) and every artifact, with a sha256 manifest."""
    from engine import api

    report = api.backup(path)
    emit(report, as_json, lambda r: f"backed up the {r['database']['kind']} catalogue and {r['artifacts']} "
                                    f"artifact(s) to {r['path']}")


@command(app, "restore")
def restore(path: Path = typer.Argument(..., help="A folder written by `trimline backup`."),
            as_json: bool = JsonOpt) -> None:
    """Verify a backup against its manifest, then load it into this empty catalogue and artifact store."""
    from engine import api

    report = api.restore(path)
    emit(report, as_json, lambda r: f"restored {r['artifacts']} artifact(s) and the catalogue (revision "
                                    f"{r['revision']}) from {r['path']}")


@command(app, "migrate")
def migrate_cmd() -> None:
    """Create or upgrade the database to the newest schema."""
    from engine import api

    typer.echo(f"database at revision {api.migrate()}")


@command(app, "doctor")
def doctor(as_json: bool = JsonOpt) -> None:
    """Versions, CPU flags and checks that the studio can run here."""
    from engine import api

    report = api.doctor()
    emit(report, as_json, lambda r: "\n".join(
        [f"{'ok ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" for c in r["checks"]]
        + [f"cpu: {r['hardware'].get('cpu')}  flags: "
           f"{' '.join(f for f, on in r['hardware'].get('flags', {}).items() if on)}"]))
    if not report["ok"]:
        raise typer.Exit(1)
