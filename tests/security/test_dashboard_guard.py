"""Attacks on the served dashboard, replayed against a real `streamlit run app/server.py` with a password."""
from __future__ import annotations

import socket
import time

import pytest

from tests.security.conftest import PASSWORD, UPLOAD_CAP_MB, Live

pytestmark = pytest.mark.xdist_group("guarded-dashboard")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _websocket_status(live: Live, host: str, cookie: str = "") -> int:
    """The HTTP status a websocket upgrade to Streamlit's stream gets (101 when accepted)."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: http://{host}\r\nSec-WebSocket-Protocol: streamlit\r\n"
                      + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n").encode())
        return int(sock.recv(256).split(b" ", 2)[1])


def test_rebound_host_name_is_refused_on_pages_and_websocket(live: Live) -> None:
    # before: `Host: rebind.attacker.example` was served like localhost (DNS rebinding drives the studio)
    for path in ("/", "/_stcore/health", "/trimline/login"):
        answer = live.request("GET", path, live.signed_in(), host="rebind.attacker.example")
        assert answer.status == 403 and b"does not answer to the host name" in answer.body
    assert _websocket_status(live, "rebind.attacker.example", live.cookie) == 403
    assert _websocket_status(live, f"localhost:{live.port}", live.cookie) == 101
    assert live.request("GET", "/", live.signed_in(), host=f"localhost:{live.port}").status == 200


def test_anonymous_session_cannot_upload_even_with_an_xsrf_cookie(live: Live) -> None:
    # before: an anonymous client took the XSRF cookie from /_stcore/health and PUT 200 MB uploads
    health = live.request("GET", "/_stcore/health")
    xsrf = (health.getheader("set-cookie") or "_streamlit_xsrf=none").split(";", 1)[0]
    token = xsrf.split("=", 1)[1]
    answer = live.request("PUT", "/_stcore/upload_file/some-session/some-file",
                          {"Cookie": xsrf, "X-Xsrftoken": token, "Content-Type": "multipart/form-data; boundary=b"},
                          b"--b\r\n" + b"0" * 1000 + b"\r\n--b--\r\n")
    assert answer.status == 401
    assert _websocket_status(live, f"127.0.0.1:{live.port}") == 403  # no page session either
    page = live.request("GET", "/", {"Accept": "text/html"})
    assert page.status == 303 and page.getheader("location").startswith("/trimline/login")


def test_upload_larger_than_the_cap_is_refused_before_it_is_read(live: Live) -> None:
    # before: the body was read into the dashboard's memory before any size check
    cap = UPLOAD_CAP_MB << 20
    xsrf = live.request("GET", "/_stcore/health").getheader("set-cookie").split(";", 1)[0]
    auth = f"Cookie: {live.cookie}; {xsrf}\r\nX-Xsrftoken: {xsrf.split('=', 1)[1]}\r\n"
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall((f"PUT /_stcore/upload_file/s/f HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
                      f"{auth}Content-Length: {cap * 50}\r\n\r\n").encode())
        started = time.monotonic()
        reply = sock.recv(512)  # answered without a single body byte sent
        while b"\r\n\r\n" not in reply or reply.endswith(b"\r\n\r\n"):  # the body may come in a second packet
            if not (more := sock.recv(512)):
                break
            reply += more
    assert reply.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5
    assert b"the upload is larger than 1 MB" in reply


def test_password_guesses_back_off_and_are_logged(live: Live) -> None:
    # before: 9.7 guesses/s, no throttle, no lockout, nothing logged
    statuses = [live.request("POST", "/trimline/login", FORM, b"password=guess-number-%d" % n).status
                for n in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]  # three free tries; the fourth failure starts the back-off
    locked = live.request("POST", "/trimline/login", FORM, f"password={PASSWORD}".encode())
    assert locked.status == 429 and int(locked.getheader("retry-after")) >= 1  # even the right one waits
    assert "failed sign-in: client 127.0.0.1" in (live.home / "dashboard.log").read_text()
    assert live.request("GET", "/", live.signed_in()).status == 200  # signed-in sessions carry on


def test_served_files_never_allow_any_origin(live: Live) -> None:
    # before: the viewer and model copies came with Access-Control-Allow-Origin: *
    answer = live.request("GET", "/app/static/netron/index.html", live.signed_in({"Origin": "http://evil.example"}))
    assert answer.status == 200
    assert answer.getheader("access-control-allow-origin") in (None, f"http://127.0.0.1:{live.port}")
    assert live.request("GET", "/app/static/netron/index.html").status == 401  # not before signing in
