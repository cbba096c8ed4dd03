"""Signing in to the studio: who may, how guesses are slowed, and the signed session a browser carries.

With ``TRIMLINE_PASSWORD`` (or ``[auth] password`` in ``.streamlit/secrets.toml``) set, there is one
account, ``team``. ``authenticate`` is the one place that decides whether an account and a password
match; named accounts extend it. A sign-in gets a session token (the account and an expiry, signed with
a key that lives only in the dashboard's process), which ``app/guard.py`` puts in an HttpOnly cookie and
checks on every request; the page script checks it again. With no password (the default, bound to
127.0.0.1) there is no login.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from engine import api
from engine.errors import InputError

log = logging.getLogger("trimline.auth")

SESSION_COOKIE = "trimline_session"
SESSION_S = 12 * 3600
TEAM = "team"
_KEY = secrets.token_bytes(32)  # restarting the dashboard signs everyone out, by design
_STATE_KEY = "auth_account"


# ---------------------------------------------------------------- who may sign in
def configured_password() -> str | None:
    """The team password, or None for no login. Raises InputError when it is set but too weak."""
    try:
        file_secrets = st.secrets.to_dict()
    except Exception:  # no secrets file: Streamlit raises its own error type  # noqa: BLE001
        file_secrets = {}
    return api.team_password(file_secrets)


_accounts: dict = {"checked": 0.0, "exist": False, "database": None}


def accounts_exist() -> bool:
    """Whether named accounts were created (``trimline users add``); re-read every few seconds, not per request,
    and at once when the settings point at another database (the answer belongs to the database it came from)."""
    database = api.settings().database_url
    if time.monotonic() - _accounts["checked"] > 5 or _accounts["database"] != database:
        _accounts.update(exist=api.has_accounts(), checked=time.monotonic(), database=database)
    return bool(_accounts["exist"])


def login_required() -> bool:
    return configured_password() is not None or accounts_exist()


def authenticate(account: str, password: str) -> bool:
    """Whether ``password`` is right for ``account``: the shared ``team`` account (solo mode, the team
    password), or a named account (argon2 hash in the database)."""
    if account != TEAM:
        return bool(account) and api.verify_user(account, password) is not None
    expected = configured_password()
    if expected is None:
        return False
    return hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))


def role_of(account: str | None) -> str | None:
    """viewer, engineer or admin; with no login at all (loopback, no password) the one user is an admin."""
    if account is None:
        return None if login_required() else "admin"
    return api.user_role(account)


# ---------------------------------------------------------------- slowing guesses down
@dataclass
class Throttle:
    """Back-off after failed sign-ins, kept per client address and per account.

    The first ``free`` failures cost nothing; each later one locks the key for ``base_s`` doubled per
    failure, up to ``max_s``. A success clears the client's record (and the account's).
    """

    free: int = 3
    base_s: float = 2.0
    max_s: float = 900.0
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, keys: list[str], now: float | None = None) -> float:
        """Seconds until any of ``keys`` may try again (0 when none is locked)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return max([0.0] + [until - now for _, until in (self._failures.get(k, (0, 0.0)) for k in keys)])

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                count = self._failures.get(key, (0, 0.0))[0] + 1
                wait = 0.0 if count <= self.free else min(self.base_s * 2 ** (count - self.free - 1), self.max_s)
                self._failures[key] = (count, now + wait)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


THROTTLE = Throttle()


@dataclass(frozen=True)
class SignIn:
    account: str | None  # the signed-in account, or None
    retry_after_s: float = 0.0  # > 0: refused without checking, the client or account is backing off


def sign_in(client: str, password: str, account: str = TEAM) -> SignIn:
    """Check a sign-in under the throttle; every failure is logged with its client and account."""
    keys = [f"client:{client}", f"account:{account}"]
    wait = THROTTLE.retry_after(keys)
    if wait > 0:
        log.warning("sign-in refused while backing off: client %s, account %r (%.0f s left)", client, account, wait)
        return SignIn(None, wait)
    if authenticate(account, password):
        THROTTLE.succeeded(keys)
        log.info("signed in: client %s, account %r", client, account)
        return SignIn(account)
    THROTTLE.failed(keys)
    log.warning("failed sign-in: client %s, account %r", client, account)
    return SignIn(None, 0.0)


# ---------------------------------------------------------------- signed values: sessions and graph links
def sign(text: str, ttl_s: float) -> str:
    """``text`` with an expiry and a signature only this process can make: ``EXPIRY.SIGNATURE``."""
    expiry = str(int(time.time() + ttl_s))
    mac = hmac.new(_KEY, f"{text}|{expiry}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{expiry}.{mac}"


def verify(text: str, stamp: str) -> bool:
    """Whether ``stamp`` (from ``sign``) is this process's signature of ``text`` and has not expired."""
    expiry, _, mac = stamp.partition(".")
    if not expiry.isdigit() or int(expiry) < time.time():
        return False
    good = hmac.new(_KEY, f"{text}|{expiry}".encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac.encode("ascii", "replace"), good.encode("ascii"))


def session_token(account: str) -> str:
    return f"{account}.{sign('session:' + account, SESSION_S)}"


def session_account(token: str | None) -> str | None:
    """The account a session cookie belongs to, or None if it is missing, forged or expired."""
    if not isinstance(token, str) or token.count(".") < 2:
        return None
    account, stamp = token.split(".", 1)
    return account if verify("session:" + account, stamp) else None


# ---------------------------------------------------------------- the page's own check
def gate() -> bool:
    """True when this session may see the studio; otherwise draws a sign-in form and returns False.

    Behind ``app/guard.py`` a browser only reaches the page with a valid session cookie; the form here
    serves a dashboard started without the guard (``streamlit run app/streamlit_app.py``, page tests).
    """
    try:
        if not login_required():
            return True
    except InputError as exc:
        st.error(str(exc))
        return False
    account = st.session_state.get(_STATE_KEY) or session_account(st.context.cookies.get(SESSION_COOKIE))
    if account:
        st.session_state[_STATE_KEY] = account
        return True
    st.title("Trimline")
    st.caption("This studio is shared with a team. Sign in with your account, or with the team password.")
    with st.form("login"):
        name = st.text_input("Account", key="login_account", placeholder=f"{TEAM} (the team password)")
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = sign_in(f"session:{_client_id()}", given, name.strip() or TEAM)
        if result.account:
            st.session_state[_STATE_KEY] = result.account
            st.rerun()
        elif result.retry_after_s:
            st.error(f"Too many wrong passwords; try again in {result.retry_after_s:.0f} s.")
        else:
            st.error("That password is not right.")
    return False


def current_account() -> str | None:
    return st.session_state.get(_STATE_KEY)


def _client_id() -> str:
    try:
        return st.context.ip_address or "local"
    except Exception:  # noqa: BLE001  (no client address outside a served session, e.g. page tests)
        return "local"
