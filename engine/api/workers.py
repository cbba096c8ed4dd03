"""Workers on many hosts: list them, and check a job's target before submitting it."""
from __future__ import annotations

from typing import Any

from engine.errors import InputError


def list_workers() -> list[dict[str, Any]]:
    """Live workers: ``id, host, labels, fingerprint, heartbeat, job`` (and pid, versions, note)."""
    from storage import workers as registry
    from storage.db import session_scope

    with session_scope() as s:
        return [w.to_json() for w in registry.list_workers(s)]


def check_target(target: str | None) -> str | None:
    """``target`` when a live worker answers to it (label, host, or 8+ characters of a fingerprint)."""
    from engine.jobs import placement

    if target is None:
        return None
    target = target.strip()
    if not placement.LABEL.match(target):
        raise InputError(f"target {target!r} is not a label, host name or fingerprint")
    if not placement.live_match(target):
        raise InputError(f"no live worker answers to {target!r}; start `trimline worker --label {target}` on the "
                         "host to measure on, or check `trimline workers`")
    return target
