"""What ``trimline up`` needs to look after its processes: stop them all at once within a bound (and say how
each ended), and find out whether the dashboard's port is free, or which process still holds it.

A stop that waits on each process in turn adds their graceful shutdowns up; a second ``up`` started in that
window found its port taken and read the dashboard's exits as crashes. Here every process is told to stop at
the same moment and killed when the bound passes, and a held port is named with the process holding it."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time

import psutil

STOP_GRACE_S = 6.0  # how long a graceful stop may take before the process is killed
PORT_WAIT_S = 15.0  # how long a new ``up`` waits for a stopping one to free its port
UP_COMMAND = re.compile(r"(engine\.cli|trimline) up\b")


def stop_all(running: dict[str, subprocess.Popen], grace_s: float = STOP_GRACE_S,
             hurry: threading.Event | None = None) -> list[str]:
    """SIGTERM every process in ``running`` that is alive (most got Ctrl-C from the terminal already), wait
    for all of them together up to ``grace_s`` (less once ``hurry`` is set: a second Ctrl-C), then kill what
    is left. Returns one phrase per process: ``'worker 1'`` or ``'the dashboard (killed after 6 s)'``."""
    for proc in running.values():
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    return reap(running, grace_s, hurry)


def reap(running: dict[str, subprocess.Popen], grace_s: float = STOP_GRACE_S,
         hurry: threading.Event | None = None) -> list[str]:
    """Wait for the processes in ``running`` (already told to stop) together, up to ``grace_s``, then kill the rest."""
    deadline = time.monotonic() + grace_s
    while any(p.poll() is None for p in running.values()) and time.monotonic() < deadline:
        if hurry is not None and hurry.is_set():
            break
        time.sleep(0.05)
    said = []
    for name, proc in running.items():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            said.append(f"{name} (killed: it did not stop within {grace_s:.0f} s)" if not (hurry and hurry.is_set())
                        else f"{name} (killed)")
        else:
            said.append(name)
    return said


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now. The probe sets SO_REUSEADDR as the dashboard's
    server does, so connections of a stopped server still in TIME_WAIT do not count as holding the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_holder(host: str, port: int) -> str | None:
    """None when ``host:port`` is free; otherwise who holds it, for a sentence: ``process 1234 (the dashboard
    of trimline up 1200)``, ``process 1234 (python3 -m http.server)``, or ``another process`` when this user
    may not see it."""
    if port_free(host, port):
        return None
    try:
        listening = [c for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid]
    except (psutil.Error, OSError):
        listening = []
    if not listening:
        return "another process"
    return f"process {listening[0].pid} ({_describe(listening[0].pid)})"


def _describe(pid: int) -> str:
    """A few words naming a process: a Trimline dashboard and the ``up`` it runs under, else its command line."""
    try:
        proc = psutil.Process(pid)
        line = " ".join(proc.cmdline()) or proc.name()
        parent = proc.parent()
        parent_line = " ".join(parent.cmdline()) if parent else ""
    except psutil.Error:
        return "gone by now"
    if "streamlit" in line and os.path.join("app", "server.py") in line:
        if parent is not None and UP_COMMAND.search(parent_line):
            return f"the dashboard of trimline up {parent.pid}, still running or stopping"
        return "a Trimline dashboard"
    return line if len(line) <= 80 else line[:77] + "..."


def wait_for_port(host: str, port: int, timeout_s: float = PORT_WAIT_S) -> str | None:
    """Wait up to ``timeout_s`` for ``host:port`` to be free; None once it is, else who still holds it."""
    deadline = time.monotonic() + timeout_s
    while True:
        holder = port_holder(host, port)
        if holder is None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.25)
