"""Throwaway real servers and worker processes for tests and benchmarks: PostgreSQL 15, Redis, an
S3-compatible endpoint (moto) and ``trimline worker``.

Each server binds 127.0.0.1 (or the addresses a test asks for) on a free port, keeps its files in a
temporary folder and is stopped at the end. Every process started here is also told to die with the
process that started it (``PR_SET_PDEATHSIG``), so a test run that is killed leaves no server or worker
behind. PostgreSQL's ``initdb``/``postgres`` refuse to run as root, so as root they run as the
``postgres`` system user Debian's package creates.
"""
from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/lib/postgresql/17/bin")]
PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition",
             proc: subprocess.Popen | None = None, every: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something true (returned); AssertionError after ``timeout``,
    RuntimeError at once when ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with code {proc.returncode}")
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def dies_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the process that started it dies, even by SIGKILL.
    (It runs after Popen's ``user=`` switch, which would otherwise clear the setting.)"""
    def preexec() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    return preexec


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Ask ``proc`` (the leader of its own process group) to stop with ``sig``; kill its group if it
    has not within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class Server:
    """One server process on a free port: start (retrying another port if one was taken meanwhile),
    wait until it answers, pause/resume (an outage that keeps the port and data), stop."""

    slug = "server"
    what = "the server"
    stop_signal: int = signal.SIGTERM
    death_signal: int = signal.SIGKILL
    ready_s = 30.0

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.folder = Path(tempfile.mkdtemp(prefix=f"trimline-{self.slug}-"))

    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def popen_options(self) -> dict[str, Any]:
        return {}

    def start(self) -> "Server":
        for _ in range(5):
            self.port = free_port(self.host)
            try:
                return self._spawn()
            except RuntimeError:
                stop_process(self.proc, self.stop_signal)
        raise RuntimeError(f"{self.what} would not start; see {self.folder / 'server.log'}")

    def _spawn(self) -> "Server":
        with open(self.folder / "server.log", "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=dies_with_parent(self.death_signal),
                                         **self.popen_options())
        try:
            wait_for(self.ready, self.ready_s, self.what, self.proc)
        except AssertionError as exc:  # start() tries another port
            raise RuntimeError(str(exc)) from None
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data and port (an outage)."""
        stop_process(self.proc, self.stop_signal)

    def resume(self) -> None:
        self._spawn()

    def stop(self) -> None:
        stop_process(self.proc, self.stop_signal)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pg_bin(name: str) -> str | None:
    for folder in PG_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def _pg_user() -> dict:
    """Popen arguments that drop root to the postgres user (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


class PostgresServer(Server):
    """A PostgreSQL cluster in a temporary folder with trust authentication for the ``postgres`` role."""

    slug, what = "pg", "PostgreSQL"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnects clients and stops
    death_signal = signal.SIGQUIT  # "immediate" shutdown: the postmaster takes its backends with it

    def __init__(self, listen: tuple[str, ...] = ("127.0.0.1",)) -> None:
        super().__init__(listen[0])
        self.listen = listen

    def start(self) -> "PostgresServer":
        if not pg_bin("initdb"):
            raise RuntimeError("PostgreSQL is not installed (bash .ci/run installs Debian's postgresql)")
        who = _pg_user()
        if who:
            os.chown(self.folder, who["user"], who["group"])
        data = self.folder / "data"
        subprocess.run([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                        "-E", "UTF8", "--no-locale"], check=True, capture_output=True, **who)
        if any(a not in ("127.0.0.1", "localhost") for a in self.listen):  # test networks of our own making
            with open(data / "pg_hba.conf", "a") as hba:
                hba.write("host all all samenet trust\n")
        return super().start()

    def argv(self) -> list[str]:
        return [pg_bin("postgres"), "-D", str(self.folder / "data"), "-p", str(self.port), "-k", str(self.folder),
                "-c", f"listen_addresses={','.join(self.listen)}", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB"]

    def popen_options(self) -> dict[str, Any]:
        return _pg_user()

    def ready(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.admin_dsn(), connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            return False

    def admin_dsn(self, host: str | None = None) -> str:
        return f"postgresql://postgres@{host or self.host}:{self.port}/postgres"

    def url(self, database: str, host: str | None = None) -> str:
        return f"postgresql+psycopg://postgres@{host or self.host}:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


class RedisServer(Server):
    """``redis-server`` with no persistence, in a temporary folder (a pause loses queued messages)."""

    slug, what = "redis", "Redis"
    ready_s = 15.0

    def __init__(self, listen: tuple[str, ...] = ("127.0.0.1",)) -> None:
        super().__init__(listen[0])
        self.listen = listen

    def start(self) -> "RedisServer":
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is not installed (bash .ci/run installs Debian's redis-server)")
        return super().start()

    def argv(self) -> list[str]:
        return [shutil.which("redis-server"), "--port", str(self.port), "--bind", *self.listen, "--save", "",
                "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "no"]

    def ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=self.host, port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def url(self, db: int = 0, host: str | None = None) -> str:
        return f"redis://{host or self.host}:{self.port}/{db}"


class S3Server(Server):
    """moto's S3-compatible server in its own process (``moto_server``), with one bucket per call."""

    slug, what = "s3", "the S3 server"

    def argv(self) -> list[str]:
        return [sys.executable, "-c", "from moto.server import main; main()", "-H", self.host, "-p", str(self.port)]

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """What a Trimline process needs to reach this endpoint."""
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": self.endpoint}

    def create_bucket(self, prefix: str = "trimline") -> str:
        import boto3

        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=name)
        return name


class Workers:
    """Real ``trimline worker`` processes, each with its own TRIMLINE_HOME (as on separate hosts) and
    process group; ``stop()`` asks each to stop (SIGINT) and kills what has not within 30 s."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, home: Path, *labels: str, env: dict[str, str] | None = None, launcher: tuple[str, ...] = (),
              register: bool = True) -> subprocess.Popen:
        """Start a worker (``launcher``: a command it runs under, such as a network namespace) and, with
        ``register``, wait until it is listed among the live workers."""
        args = [a for label in labels for a in ("--label", label)]
        proc = subprocess.Popen([*launcher, sys.executable, "-m", "engine.cli", "worker", *args],
                                env={**os.environ, "TRIMLINE_HOME": str(home), **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=dies_with_parent())
        self.procs.append(proc)
        if register:
            self.wait_registered(proc)
        return proc

    @staticmethod
    def wait_registered(proc: subprocess.Popen, timeout: float = 90) -> dict:
        from engine import api

        return wait_for(lambda: next((w for w in api.list_workers() if w["pid"] == proc.pid), None), timeout,
                        "the worker to register", proc, every=0.2)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            stop_process(proc, signal.SIGINT, timeout=30)
        self.procs.clear()
