"""Throwaway real servers for tests: PostgreSQL 15, Redis and an S3-compatible endpoint (moto).

Each binds 127.0.0.1 (plus any extra addresses a test asks for) on a free port, keeps its files in a
temporary folder and is stopped at the end. PostgreSQL's ``initdb``/``postgres`` refuse to run as
root, so as root they run as the ``postgres`` system user Debian's package creates.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/lib/postgresql/17/bin")]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait(predicate: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


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


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder with trust authentication for the ``postgres`` role."""

    def __init__(self, listen: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.listen = listen
        self.folder = Path(tempfile.mkdtemp(prefix="trimline-pg-"))
        self.port = 0
        self.proc: subprocess.Popen | None = None

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
        for _ in range(5):
            self.port = free_port(self.listen[0])
            try:
                return self._spawn()
            except RuntimeError:
                self._kill()
        raise RuntimeError(f"PostgreSQL would not start; see {self.folder / 'server.log'}")

    def _spawn(self) -> "PostgresServer":
        self.proc = subprocess.Popen(
            [pg_bin("postgres"), "-D", str(self.folder / "data"), "-p", str(self.port), "-k", str(self.folder),
             "-c", f"listen_addresses={','.join(self.listen)}", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB"],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "server.log", "ab"), start_new_session=True,
            **_pg_user())
        _wait(self._ready, 30, "PostgreSQL", self.proc)
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data and port (an outage)."""
        self._kill()

    def resume(self) -> None:
        self._spawn()

    def _ready(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.admin_dsn(), connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            return False

    def admin_dsn(self, host: str | None = None) -> str:
        return f"postgresql://postgres@{host or self.listen[0]}:{self.port}/postgres"

    def url(self, database: str, host: str | None = None) -> str:
        return f"postgresql+psycopg://postgres@{host or self.listen[0]}:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: disconnects clients and stops
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer:
    """``redis-server`` with no persistence, in a temporary folder."""

    def __init__(self, listen: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.listen = listen
        self.folder = Path(tempfile.mkdtemp(prefix="trimline-redis-"))
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is not installed (bash .ci/run installs Debian's redis-server)")
        for _ in range(5):
            self.port = free_port(self.listen[0])
            try:
                return self._spawn()
            except RuntimeError:
                self._kill()
        raise RuntimeError(f"Redis would not start; see {self.folder / 'server.log'}")

    def _spawn(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", *self.listen, "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "no"],
            stdout=open(self.folder / "server.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        _wait(self._ready, 15, "Redis", self.proc)
        return self

    def pause(self) -> None:
        """Stop the server, keeping its port (an outage; queued messages are lost with it)."""
        self._kill()

    def resume(self) -> None:
        self._spawn()

    def _ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=self.listen[0], port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def url(self, db: int = 0, host: str | None = None) -> str:
        return f"redis://{host or self.listen[0]}:{self.port}/{db}"

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class S3Server:
    """moto's S3-compatible server in its own process (``moto_server``), with one bucket per call."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="trimline-s3-"))

    def start(self) -> "S3Server":
        import sys

        for _ in range(5):
            self.port = free_port(self.host)
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from moto.server import main; main()", "-H", self.host, "-p", str(self.port)],
                stdout=open(self.folder / "server.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
            try:
                _wait(self._ready, 30, "the S3 server", self.proc)
                return self
            except RuntimeError:
                self._kill()
        raise RuntimeError(f"the S3 server would not start; see {self.folder / 'server.log'}")

    def _ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

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

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.folder, ignore_errors=True)
