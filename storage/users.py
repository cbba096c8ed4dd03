"""Named accounts: a name, a password hash (never the password) and a role."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import User


def _user(row: User) -> dict[str, Any]:
    return {"name": row.name, "role": row.role, "created_at": row.created_at.isoformat(timespec="seconds") + "Z"}


def add_user(session: Session, name: str, password_hash: str, role: str) -> dict[str, Any]:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        row = User(name=name, password_hash=password_hash, role=role)
        session.add(row)
    else:  # adding an existing name changes its password and role
        row.password_hash, row.role = password_hash, role
    session.flush()
    return _user(row)


def password_hash(session: Session, name: str) -> tuple[str, str] | None:
    """(hash, role) of an account, or None."""
    row = session.scalar(select(User).where(User.name == name))
    return (row.password_hash, row.role) if row else None


def set_hash(session: Session, name: str, password_hash: str) -> None:
    row = session.scalar(select(User).where(User.name == name))
    if row is not None:
        row.password_hash = password_hash


def list_users(session: Session) -> list[dict[str, Any]]:
    return [_user(r) for r in session.scalars(select(User).order_by(User.name))]


def remove_user(session: Session, name: str) -> bool:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        return False
    session.delete(row)
    return True


def set_role(session: Session, name: str, role: str) -> dict[str, Any] | None:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        return None
    row.role = role
    session.flush()
    return _user(row)
