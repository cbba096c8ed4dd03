"""One name for this process as a worker: the claim on a job and the worker's heartbeat row use it."""
from __future__ import annotations

import os
import socket
import uuid

_token = uuid.uuid4().hex[:6]
_pid = os.getpid()


def worker_id() -> str:
    """``host:pid:token``; the token tells apart two processes that reuse a pid on one host. A forked
    child gets a fresh one."""
    global _token, _pid
    if os.getpid() != _pid:
        _token, _pid = uuid.uuid4().hex[:6], os.getpid()
    return f"{socket.gethostname()}:{_pid}:{_token}"
