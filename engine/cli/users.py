"""Named accounts for the dashboard: add, list, change a role, remove."""
from __future__ import annotations

import os
from typing import Optional

import typer

from engine.cli.base import JsonOpt, app, command, emit

users_app = typer.Typer(no_args_is_help=True, help="Named dashboard accounts with roles (viewer, engineer, admin).")
app.add_typer(users_app, name="users")


@command(users_app, "add")
def add(name: str, role: str = typer.Option("engineer", help="viewer, engineer or admin."),
        password: Optional[str] = typer.Option(None, help="Default: TRIMLINE_NEW_PASSWORD, else asked (hidden)."),
        as_json: bool = JsonOpt) -> None:
    """Create an account (or reset its password and role)."""
    from engine import api

    secret = password or os.environ.get("TRIMLINE_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    doc = api.add_user(name, secret, role)
    emit(doc, as_json, lambda d: f"account {d['name']} ({d['role']}) is ready")


@command(users_app, "list")
def list_(as_json: bool = JsonOpt) -> None:
    """Every account with its role."""
    from engine import api

    rows = api.list_users()
    emit(rows, as_json, lambda rows: "\n".join(f"{u['name']:<24} {u['role']:<9} since {u['created_at']}"
                                               for u in rows) or "no accounts (solo mode: the team password)")


@command(users_app, "rm")
def rm(name: str, as_json: bool = JsonOpt) -> None:
    """Remove an account."""
    from engine import api

    api.remove_user(name)
    emit({"removed": name}, as_json, lambda d: f"account {name} removed")


@command(users_app, "role")
def role(name: str, new_role: str = typer.Argument(..., metavar="ROLE", help="viewer, engineer or admin."),
         as_json: bool = JsonOpt) -> None:
    """Change an account's role (its password stays)."""
    from engine import api

    doc = api.set_role(name, new_role)
    emit(doc, as_json, lambda d: f"account {d['name']} is now {d['role']}")
