"""Named accounts with roles (viewer: read and download; engineer: also import and run jobs; admin: also users
and deletions). Passwords are hashed with argon2id (argon2-cffi); the shared team password stays as solo mode."""
from __future__ import annotations

import re
from typing import Any

from engine.actor import (RANK, ROLES, TEAM, allowed, current_actor, require,  # noqa: F401  (re-exported)
                          role_of)
from engine.api.access import MIN_PASSWORD_CHARS
from engine.api.common import ready
from engine.errors import InputError
from storage import history, users
from storage.db import session_scope

RESERVED = {TEAM}  # the shared password's account


def _hasher():  # noqa: ANN202
    from argon2 import PasswordHasher

    return PasswordHasher()


def add_user(name: str, password: str, role: str, who: str | None = None) -> dict[str, Any]:
    """Create an account (or reset its password and role). Admins only."""
    require("admin", "manage accounts")
    who = who if who is not None else current_actor()
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,120}", name or "") or name in RESERVED:
        raise InputError("an account name is 1–120 letters, digits or . _ @ -, and not 'team'")
    if role not in ROLES:
        raise InputError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    ready()
    with session_scope() as s:
        doc = users.add_user(s, name, _hasher().hash(password), role)
        history.audit(s, "add user", f"user {name}", who, {"role": role})
    return doc


def verify_user(name: str, password: str) -> str | None:
    """The account's role when the password is right, else None (same work whether or not it exists)."""
    from argon2.exceptions import VerificationError, InvalidHashError

    ready()
    with session_scope() as s:
        found = users.password_hash(s, name)
    hasher = _hasher()
    try:
        hasher.verify(found[0] if found else _dummy(hasher), password)
    except (VerificationError, InvalidHashError):
        return None
    if found is None:
        return None
    if hasher.check_needs_rehash(found[0]):
        with session_scope() as s:
            users.set_hash(s, name, hasher.hash(password))
    return found[1]


_DUMMIES: list[str] = []


def _dummy(hasher) -> str:  # noqa: ANN001
    """A real hash to verify against when the account does not exist, so both cases cost the same."""
    if not _DUMMIES:
        _DUMMIES.append(hasher.hash("no such account"))
    return _DUMMIES[0]


def list_users() -> list[dict[str, Any]]:
    ready()
    with session_scope() as s:
        return users.list_users(s)


def remove_user(name: str, who: str | None = None) -> None:
    """Delete an account. Admins only; nobody removes their own account (an admin would lock themselves out)."""
    require("admin", "manage accounts")
    who = who if who is not None else current_actor()
    if name == current_actor():
        raise InputError("you cannot remove your own account; ask another admin")
    ready()
    with session_scope() as s:
        if not users.remove_user(s, name):
            raise InputError(f"there is no account named {name!r}")
        history.audit(s, "remove user", f"user {name}", who)


def set_role(name: str, role: str, who: str | None = None) -> dict[str, Any]:
    """Change an account's role (it takes effect at the account's next action). Admins only; an admin does not
    change their own role."""
    require("admin", "manage accounts")
    who = who if who is not None else current_actor()
    if role not in ROLES:
        raise InputError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    if name == current_actor():
        raise InputError("you cannot change your own role; ask another admin")
    ready()
    with session_scope() as s:
        doc = users.set_role(s, name, role)
        if doc is None:
            raise InputError(f"there is no account named {name!r}")
        history.audit(s, "change role", f"user {name}", who, {"role": role})
    return doc


def user_role(name: str | None) -> str | None:
    """An account's role; the shared password's ``team`` account is an admin (solo mode)."""
    if not name:
        return None
    ready()
    return role_of(name)


def has_accounts() -> bool:
    return bool(list_users())


def accounts_exist_here() -> bool:
    """Whether named accounts exist, without creating a database that is not there yet."""
    from pathlib import Path

    from storage.settings import get_settings

    url = get_settings().database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        return False
    return has_accounts()


def audit_trail(limit: int = 200) -> list[dict[str, Any]]:
    """Who added, removed or changed accounts and who renamed, archived or deleted what, newest first. Admins
    only."""
    require("admin", "read the audit trail")
    ready()
    with session_scope() as s:
        return history.audit_events(s, limit)
