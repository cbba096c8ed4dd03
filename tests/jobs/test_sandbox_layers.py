"""Each isolation layer of a job's child, checked on its own in a throwaway process, and the worker's
own protections: non-dumpable, secrets out of its environment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.jobs import landlock, sandbox

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kwargs.pop("env", {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=env, **kwargs)


@pytest.fixture()
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "canary.txt"
    path.parent.mkdir()
    path.write_text("CANARY")
    return path


@pytest.mark.skipif(landlock.abi_version() < 1, reason="this kernel offers no Landlock")
def test_landlock_confines_reads_and_writes_to_the_listed_paths(canary: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = _python(f"""
        import sys
        from pathlib import Path
        from engine.jobs import landlock, sandbox
        held = landlock.restrict([*sandbox.library_roots()], [Path({str(scratch)!r})])
        Path({str(scratch)!r}, "ok").write_text("written")
        for path in ({str(canary)!r}, "/etc/hostname"):
            try:
                open(path).read()
                print("READ", path)
            except PermissionError:
                print("refused", path)
        print(held[0])
    """)
    assert done.returncode == 0, done.stderr
    assert "READ" not in done.stdout and done.stdout.count("refused") == 2
    assert (scratch / "ok").read_text() == "written"


def test_seccomp_refuses_network_sockets_but_not_local_pipes() -> None:
    done = _python("""
        import socket
        from engine.jobs import seccomp
        seccomp.install()
        socket.socket(socket.AF_UNIX).close()
        try:
            socket.socket(socket.AF_INET)
            print("INET ALLOWED")
        except PermissionError:
            print("inet refused")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "inet refused"


def test_sandboxed_child_sees_no_canary_no_database_no_parent_environ(canary: Path, tmp_path: Path) -> None:
    """The runner's full stack (namespaces, user, Landlock, seccomp) around a probe instead of a job."""
    home = tmp_path / "home"
    (home / "scratch" / "job").mkdir(parents=True)
    (home / "trimline.db").write_text("DATABASE")
    scratch = home / "scratch" / "job"
    probe = textwrap.dedent(f"""
        import json, os, socket, sys
        from pathlib import Path
        from engine.jobs.child import confine
        held = confine(Path({str(scratch)!r}))
        seen = {{}}
        for label, path in (("canary", {str(canary)!r}), ("database", {str(home / "trimline.db")!r}),
                            ("environ", "/proc/{os.getpid()}/environ")):
            try:
                seen[label] = open(path, "rb").read(40).decode(errors="replace")
            except OSError as exc:
                seen[label] = "denied: " + type(exc).__name__
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
            seen["network"] = "connected"
        except OSError as exc:
            seen["network"] = "denied: " + type(exc).__name__
        seen["uid"] = os.getuid()
        seen["held"] = held
        print(json.dumps(seen))
    """)
    launch = sandbox.prepare(scratch, [], [sys.executable, "-c", probe], lambda: None, home)
    done = subprocess.run(launch.argv, preexec_fn=launch.preexec, capture_output=True, text=True, timeout=120,
                          cwd=scratch, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
                                            "TRIMLINE_PASSWORD": "must-not-leak"})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(seen[k].startswith("denied") for k in ("canary", "database", "environ", "network")), seen
    layers = {layer["name"]: layer["active"] for layer in sandbox.layers()}
    if os.geteuid() == 0 and layers["user"]:
        assert seen["uid"] == sandbox.SANDBOX_UID
    assert bool(seen["held"]) == (layers["landlock"] or layers["seccomp"])


def test_hardened_process_keeps_secrets_out_of_its_environment_and_children() -> None:
    secret = "team-password-0123456789"
    done = _python("""
        import ctypes, os, subprocess
        from engine import api
        api.harden_process()
        print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE
        print(open("/proc/self/environ", "rb").read().count(b"team-password"))
        print(api.settings().password.get_secret_value())
        print(subprocess.run(["env"], capture_output=True, text=True).stdout.count("team-password"))
    """, env={"TRIMLINE_PASSWORD": secret})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0", secret, "0"]


def test_doctor_shows_one_line_per_sandbox_layer() -> None:
    from engine.doctor import _sandbox_checks

    checks = {c["name"]: c for c in _sandbox_checks()}
    for name in ("namespaces", "user", "landlock", "seccomp", "limits"):
        assert checks[f"sandbox {name}"]["detail"].startswith(("on: ", "off: "))
    assert checks["sandbox"]["ok"] == any(layer["active"] for layer in sandbox.layers()
                                          if layer["name"] in ("namespaces", "landlock"))
