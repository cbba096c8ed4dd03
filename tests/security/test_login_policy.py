"""The team password's rules and the sign-in throttle, without a server."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import api
from engine.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", [" ", "\t\n", "s3cret", "eleven-char"])
def test_blank_or_short_team_password_is_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # before: a one-space TRIMLINE_PASSWORD counted as configured
    monkeypatch.setenv("TRIMLINE_PASSWORD", value)
    with pytest.raises(InputError, match="blank|characters long"):
        api.team_password()
    monkeypatch.delenv("TRIMLINE_PASSWORD")
    with pytest.raises(InputError, match=r"\[auth\] password"):
        api.team_password({"auth": {"password": value}})
    assert api.team_password({}) is None


def test_up_refuses_a_blank_password_before_starting(tmp_path: Path) -> None:
    env = {**os.environ, "TRIMLINE_HOME": str(tmp_path), "TRIMLINE_PASSWORD": " "}
    run = subprocess.run([sys.executable, "-m", "engine.cli", "up", "--host", "0.0.0.0", "--port", "1"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip() == ("error: TRIMLINE_PASSWORD is blank; set a password of at least 12 characters, "
                                  "or unset it to use the studio on this machine only")


def test_throttle_backs_off_per_client_and_per_account(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from app import auth

    monkeypatch.setenv("TRIMLINE_PASSWORD", "correct-horse-battery")
    monkeypatch.setattr(auth, "THROTTLE", auth.Throttle(free=3, base_s=2.0, max_s=60.0))
    caplog.set_level(logging.WARNING, "trimline.auth")
    for n in range(3):
        assert auth.sign_in("10.0.0.1", f"guess {n}") == auth.SignIn(None, 0.0)
    assert auth.THROTTLE.retry_after(["client:10.0.0.1"]) == 0  # three free tries
    assert auth.sign_in("10.0.0.1", "guess 3").account is None
    first = auth.THROTTLE.retry_after(["client:10.0.0.1"])
    assert 1.5 < first <= 2.0
    # another client is held back too: the account itself is backing off (guesses spread over addresses)
    assert auth.sign_in("10.0.0.2", "correct-horse-battery").retry_after_s > 0
    now = __import__("time").monotonic() + 3
    auth.THROTTLE.failed(["client:10.0.0.1"], now=now)
    assert 3.5 < auth.THROTTLE.retry_after(["client:10.0.0.1"], now=now) <= 4.0  # doubled
    for _ in range(20):
        auth.THROTTLE.failed(["client:10.0.0.1"], now=now)
    assert auth.THROTTLE.retry_after(["client:10.0.0.1"], now=now) == 60.0  # capped
    assert sum("failed sign-in: client 10.0.0.1" in r.message for r in caplog.records) == 4


def test_allowed_hosts_are_loopback_configured_and_the_bound_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIMLINE_ALLOWED_HOSTS", "studio.example.com, Trimline.Lan")
    monkeypatch.setenv("TRIMLINE_BIND_HOST", "0.0.0.0")
    assert api.allowed_hosts() == {"127.0.0.1", "localhost", "::1", "[::1]", "studio.example.com", "trimline.lan"}
    monkeypatch.setenv("TRIMLINE_BIND_HOST", "10.1.2.3")
    assert "10.1.2.3" in api.allowed_hosts()
