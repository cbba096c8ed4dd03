"""Graph files for the Netron viewer: signed short-lived links to the store, for signed-in sessions only.

Driven in-process through the guard and its routes (the same ASGI objects `app/server.py` serves), so
the links can be signed with this process's key.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import api
from engine.jobs import service

pytestmark = pytest.mark.xdist_group("jobs")


def _call(asgi, path: str, cookie: str = "", method: str = "GET",
          chunks: list[bytes] = ()) -> tuple[int, dict[str, str], bytes]:
    headers = [(b"host", b"127.0.0.1:8501")] + ([(b"cookie", cookie.encode())] if cookie else [])
    pending = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": headers, "scheme": "http", "server": ("127.0.0.1", 8501), "client": ("127.0.0.1", 5),
             "http_version": "1.1", "root_path": ""}
    sent: list[dict] = []

    ended = []

    async def receive() -> dict:
        if pending:
            return pending.pop(0)
        if not ended:
            ended.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the response is sent

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asgi(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture()
def guarded(home: Path, monkeypatch: pytest.MonkeyPatch):
    from starlette.applications import Starlette

    from app import auth, guard

    monkeypatch.setenv("TRIMLINE_PASSWORD", "correct-horse-battery")
    return guard.Guard(Starlette(routes=guard.routes())), f"{auth.SESSION_COOKIE}={auth.session_token(auth.TEAM)}"


def test_graph_link_needs_a_session_and_a_fresh_signature(guarded, hostile_names_onnx: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # before: model copies sat in app/static/models/<sha256>.onnx, served to anyone with `*` CORS
    from app import auth, guard, netron_view

    asgi, cookie = guarded
    model_id = service.wait(api.submit_import(hostile_names_onnx).id).result["model_id"]
    link = guard.graph_url(model_id, "onnx")
    assert link.startswith(f"/trimline/graph/{model_id}/") and link.endswith("/model.onnx")
    status, headers, body = _call(asgi, link, cookie)
    assert status == 200 and body == api.model_path(model_id).read_bytes()
    assert "access-control-allow-origin" not in headers and headers["cache-control"] == "private, no-store"
    assert _call(asgi, link)[0] == 401  # no session
    assert _call(asgi, link, f"{auth.SESSION_COOKIE}=team.9999999999.forged")[0] == 401
    other = link.replace(f"/graph/{model_id}/", f"/graph/{model_id + 1}/")
    assert _call(asgi, other, cookie)[0] == 403  # a signature is for one model only
    monkeypatch.setattr(guard, "GRAPH_LINK_S", -1)
    assert _call(asgi, guard.graph_url(model_id, "onnx"), cookie)[0] == 403  # expired
    assert not (netron_view.STATIC / "models").exists()
    viewer = netron_view.viewer_url(link)
    assert viewer.startswith("/app/static/netron/index.html?url=/trimline/graph/")


def test_streamed_upload_is_cut_off_at_the_cap(guarded, monkeypatch: pytest.MonkeyPatch) -> None:
    # a body with no Content-Length is counted as it arrives: the app never holds more than the cap
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from app import guard

    held = []

    async def upload(request):
        try:
            async for chunk in request.stream():
                held.append(len(chunk))
        except ClientDisconnect:
            pass
        return PlainTextResponse(f"stored {sum(held)} bytes")

    monkeypatch.setattr(guard, "upload_limit_bytes", lambda: 1 << 20)
    asgi = guard.Guard(Starlette(routes=[Route("/_stcore/upload_file/{s}/{f}", upload, methods=["PUT"])]))
    cookie = guarded[1]
    status, _, body = _call(asgi, "/_stcore/upload_file/s/f", cookie, "PUT", [b"0" * (256 << 10)] * 40)
    assert status == 413 and body == b"the upload is larger than 1 MB\n"
    assert sum(held) <= 1 << 20  # 4 of the 40 chunks reached the app, none after the cap
    status, _, body = _call(asgi, "/_stcore/upload_file/s/f", cookie, "PUT", [b"0" * 1000] * 3)
    assert status == 200 and body.startswith(b"stored")
