"""Who is acting, and what their role lets them do.

The dashboard sets the signed-in account for each script run (and each fragment run), and the engine checks
it wherever something is changed: a page that forgot to hide a button still cannot do what the role does not
allow. A context variable, so two people's sessions (threads) never see each other's name.

Roles: a viewer reads and downloads (exports); an engineer also imports, runs jobs, cancels them and chooses
champions; an admin also manages accounts and deletes. With no account acting, the caller is the machine's own
operator (the CLI, or a dashboard nobody signs in to) and may do everything, unless this process serves people
who sign in (``require_sign_in``): then an unnamed caller is refused.
"""
from __future__ import annotations

from contextvars import ContextVar

from engine.errors import AccessError

ROLES = ("viewer", "engineer", "admin")
RANK = {role: n for n, role in enumerate(ROLES)}
TEAM = "team"  # the shared password's account (solo mode): an admin

_ACTOR: ContextVar[str | None] = ContextVar("trimline_actor", default=None)
_SIGN_IN = {"required": False}


def set_actor(name: str | None) -> None:
    _ACTOR.set(name)


def current_actor() -> str | None:
    return _ACTOR.get()


def require_sign_in(required: bool) -> None:
    """Say whether this process serves people who sign in (the dashboard with a password or accounts)."""
    _SIGN_IN["required"] = bool(required)


def allowed(role: str | None, needed: str) -> bool:
    return role is not None and RANK.get(role, -1) >= RANK[needed]


def role_of(name: str) -> str | None:
    """An account's role, read from the database on every check (a changed or removed account takes effect
    at once); the shared password's ``team`` account is an admin."""
    if name == TEAM:
        return "admin"
    from storage import users
    from storage.db import read_scope

    with read_scope() as s:
        found = users.password_hash(s, name)
    return found[1] if found else None


def require(needed: str, doing: str) -> None:
    """Refuse ``doing`` (words after "to": "delete models") unless the acting account's role reaches ``needed``.

    Raises AccessError with a sentence naming the account, its role and who may do it."""
    name = current_actor()
    if name is None:
        if _SIGN_IN["required"]:
            raise AccessError(f"sign in to {doing}")
        return
    role = role_of(name)
    if not allowed(role, needed):
        who = "an admin" if needed == "admin" else "an engineer or an admin"
        what = f"{'an' if role[0] in 'aeiou' else 'a'} {role}" if role else "no longer an account here"
        raise AccessError(f"{name} is {what}; only {who} can {doing}")


# what each job kind needs: exporting is downloading, which a viewer may do
JOB_ROLES = {"export": "viewer"}


def require_for_job(kind: str) -> None:
    needed = JOB_ROLES.get(kind, "engineer")
    require(needed, "export models" if kind == "export" else f"run {kind.replace('_', ' ')} jobs")
