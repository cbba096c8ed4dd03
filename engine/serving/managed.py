"""A served deployment as a managed process beside the worker: started by the Deploy page, recorded
under ``$TRIMLINE_HOME/serving/servers/NAME.json``, so it outlives the page and a reload finds it.

``trimline up`` owns the servers started while it runs (``serving/owner.json`` names it): it stops them
when it exits, and each one watches it and stops by itself if ``up`` dies without a word (SIGKILL), so
no server is left behind."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from engine.errors import InputError
from engine.serving.deployments import serving_dir
from engine.serving.server import check_bind
from storage.settings import get_settings


def _token() -> str | None:
    """TRIMLINE_SERVE_TOKEN, from the settings: what a managed server requires of its clients."""
    token = get_settings().serve_token
    return token.get_secret_value() if token else None


def _record(name: str) -> Path:
    folder = serving_dir() / "servers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.json"


def _alive(pid: int, created: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - created) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _owner_file() -> Path:
    return serving_dir() / "owner.json"


def claim_ownership() -> None:
    """Make this process (``trimline up``) the owner of the managed servers started from now on."""
    me = psutil.Process(os.getpid())
    _owner_file().write_text(json.dumps({"pid": me.pid, "created": me.create_time()}))


def owner() -> dict[str, Any] | None:
    """The live owner ``{pid, created}``, or None."""
    try:
        record = json.loads(_owner_file().read_text())
    except (OSError, ValueError):
        return None
    return record if _alive(record["pid"], record["created"]) else None


def stop_owned(grace_s: float = 5.0) -> list[str]:
    """Stop every managed server this process owns, all at once, and give up ownership; the names stopped.
    Each gets SIGTERM at the same moment and ``grace_s`` in all to shut down gracefully (in-flight requests
    answered, scratch emptied) before it is killed, so ``trimline up`` stops in seconds however many it serves."""
    me = psutil.Process(os.getpid())
    mine = []
    for path in (serving_dir() / "servers").glob("*.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        boss = doc.get("owner") or {}
        if boss.get("pid") == me.pid and abs(boss.get("created", 0) - me.create_time()) < 1 \
                and _alive(doc["pid"], doc["created"]):
            mine.append(doc)
    _stop_records(mine, grace_s)
    current = owner()
    if current and current["pid"] == me.pid:
        _owner_file().unlink(missing_ok=True)
    return [doc["name"] for doc in mine]


def _stop_records(records: list[dict[str, Any]], grace_s: float) -> None:
    """SIGTERM each server's process group, wait for all of them together up to ``grace_s``, SIGKILL the
    rest, then remove their scratch folders (a server empties its own on SIGTERM, but its walls keep it
    from removing the folder itself)."""
    for record in records:
        try:
            os.killpg(record["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    left = _wait_gone(records, grace_s)
    for record in left:
        try:
            os.killpg(record["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_gone(left, 5.0)
    for record in records:
        shutil.rmtree(serving_dir() / "scratch" / str(record["pid"]), ignore_errors=True)  # server_walls.scratch_folder


def _wait_gone(records: list[dict[str, Any]], timeout_s: float) -> list[dict[str, Any]]:
    """Wait until the recorded servers have exited, up to ``timeout_s``; those still running. An exited server
    counts as gone while it is a zombie: its parent is the dashboard that started it, not the caller, and
    waiting for the pid to disappear (``psutil.Process.wait``) lasted until the dashboard reaped it or the
    timeout ran out, which made ``trimline up`` take 15 to 30 s longer to stop with a deployment served."""
    deadline = time.monotonic() + timeout_s
    left = [r for r in records if _alive(r["pid"], r["created"])]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [r for r in left if _alive(r["pid"], r["created"])]
    for record in records:
        if record not in left:
            _reap(record["pid"])
    return left


def _reap(pid: int) -> None:
    """Collect an exited server's status when this process started it (the Deploy page's stop button in the
    dashboard), so it leaves no zombie behind."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # another process's child: its parent (or init) collects it
        pass


def start(name: str, host: str = "127.0.0.1", port: int = 8600, token: str | None = None,
          memory_mb: int | None = None) -> dict[str, Any]:
    from engine.serving.common import ServerOptions

    current = status(name)
    if current and current["state"] != "exited":
        raise InputError(f"'{name}' is already served at {current['url']}; stop it first")
    check_bind(ServerOptions(host=host, port=port, token=token))
    log = serving_dir() / "servers" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}
    if token:
        env["TRIMLINE_SERVE_TOKEN"] = token
    root = Path(__file__).resolve().parents[2]
    boss = owner()
    argv = [sys.executable, "-m", "engine.cli", "serve", "--name", name, "--host", host, "--port", str(port)]
    if memory_mb is not None:
        argv += ["--memory-mb", str(int(memory_mb))]
    if boss:
        argv += ["--owner", f"{boss['pid']}:{boss['created']}"]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    record = {"name": name, "pid": proc.pid, "created": psutil.Process(proc.pid).create_time(),
              "url": f"http://{host}:{port}", "log": str(log), "started_at": time.time(), "owner": boss,
              "memory_mb": memory_mb}
    _record(name).write_text(json.dumps(record))
    return record


def status(name: str) -> dict[str, Any] | None:
    """The recorded server with ``state``: starting (loading models), ready, or exited; None if never started."""
    path = _record(name)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    state = "exited"
    if _alive(record["pid"], record["created"]):
        state = "ready" if _ready(record["url"]) else "starting"
    text = ""
    try:
        text = Path(record["log"]).read_text(errors="replace")[-200_000:]
    except OSError:
        pass
    tail = text[-2000:]
    walls = [line for line in text.splitlines() if line.startswith("sandbox: ")]
    return {**record, "state": state, "log_tail": tail, "sandbox": walls[-1].removeprefix("sandbox: ") if walls else ""}


def _ready(url: str) -> bool:
    from engine.serving.client import Connection

    conn = Connection(url, _token(), timeout_s=2)
    try:
        return conn.request("GET", "/v2/health/ready")[0] == 200
    except OSError:
        return False
    finally:
        conn.close()


def stop(name: str, timeout_s: float = 15.0) -> bool:
    """Stop the managed server (its own process group; killed when it has not shut down gracefully within
    ``timeout_s``); True when one was running."""
    path = _record(name)
    if not path.is_file():
        return False
    record = json.loads(path.read_text())
    if not _alive(record["pid"], record["created"]):
        return False
    _stop_records([record], timeout_s)
    return True


def reload(name: str) -> bool:
    """Ask a running managed server to re-read ``name``'s deployment; False when none is running."""
    from engine.serving.client import Connection

    record = status(name)
    if record is None or record["state"] != "ready":
        return False
    conn = Connection(record["url"], _token(), timeout_s=600)
    try:
        code, _, body = conn.request("POST", f"/v2/repository/models/{name}/load")
    finally:
        conn.close()
    if code != 200:
        raise InputError(f"the server could not reload '{name}': {json.loads(body).get('error', code)}")
    return True
