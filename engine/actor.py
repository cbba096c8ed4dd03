"""Who is acting: the dashboard sets the signed-in account for its script run, and jobs submitted during
that run record it. A context variable, so two people's sessions (threads) never see each other's name."""
from __future__ import annotations

from contextvars import ContextVar

_ACTOR: ContextVar[str | None] = ContextVar("trimline_actor", default=None)


def set_actor(name: str | None) -> None:
    _ACTOR.set(name)


def current_actor() -> str | None:
    return _ACTOR.get()
