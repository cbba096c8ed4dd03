"""Who may reach the studio: the team password setting and the host names the dashboard answers to.

The dashboard (``app/guard.py``) and ``trimline up`` both read these, so a password that is too short
is refused in the same words wherever it is set.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

from engine import environment
from engine.errors import InputError

MIN_PASSWORD_CHARS = 12
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
SECRETS = Path(__file__).resolve().parents[2] / ".streamlit" / "secrets.toml"


def read_secrets(path: Path = SECRETS) -> dict[str, Any]:
    """Streamlit's secrets file as a dict ({} when absent or unreadable)."""
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def team_password(secrets: Mapping[str, Any] | None = None) -> str | None:
    """The team password from ``TRIMLINE_PASSWORD``, else ``[auth] password`` in ``secrets``; None when unset.

    Raises InputError when one is set but blank or shorter than MIN_PASSWORD_CHARS: a login anyone can
    guess is refused rather than taken as configured.
    """
    secret = environment.settings().password
    value, where = (secret.get_secret_value() if secret else None), "TRIMLINE_PASSWORD"
    if value is None:
        try:
            value = (secrets or {}).get("auth", {}).get("password")
        except (AttributeError, KeyError, FileNotFoundError):
            value = None
        if value is None:
            return None
        value, where = str(value), "[auth] password in .streamlit/secrets.toml"
    if not value.strip():
        raise InputError(f"{where} is blank; set a password of at least {MIN_PASSWORD_CHARS} characters, or unset "
                         "it to use the studio on this machine only")
    if len(value) < MIN_PASSWORD_CHARS:
        raise InputError(f"{where} is {len(value)} characters long; a team password needs at least "
                         f"{MIN_PASSWORD_CHARS} characters")
    return value


def allowed_hosts() -> set[str]:
    """Host names the dashboard answers to: loopback, ``TRIMLINE_ALLOWED_HOSTS`` (comma-separated) and the
    address it was told to bind (``TRIMLINE_BIND_HOST``, set by ``trimline up``) unless that is a wildcard.

    Anything else in a request's Host header is refused: a page on another site that rebinds its DNS name
    to 127.0.0.1 must not drive the studio.
    """
    hosts = {h.lower() for h in LOOPBACK_HOSTS}
    current = environment.settings()
    hosts |= {h.strip().lower() for h in current.allowed_hosts.split(",") if h.strip()}
    bind = current.bind_host.strip().lower()
    if bind not in WILDCARD_BINDS:
        hosts.add(bind)
    return hosts


def explain_failure(exc: BaseException) -> str | None:
    """One sentence for a failure of the machine (disk full, damaged database, a path too long...), or
    None when ``exc`` is not one: the CLI and the dashboard show it instead of "internal error"."""
    from engine.failures import sentence_for

    return sentence_for(exc)
