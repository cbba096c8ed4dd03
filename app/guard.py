"""The dashboard's front door: every HTTP request and websocket passes here before Streamlit sees it.

- **Host names.** Only loopback names, ``TRIMLINE_ALLOWED_HOSTS`` and the address ``trimline up`` bound
  are answered; a DNS-rebinding page (``Host: rebind.attacker.example``) gets 403.
- **Login.** With a team password, everything but the sign-in page and the health check needs a valid
  session cookie: the page, its websocket, uploads (``/_stcore/upload_file``), media and the graph
  viewer's model files. Sign-ins are throttled per client and per account (``app/auth.py``).
- **Upload size.** A request body above ``server.maxUploadSize`` is refused from its Content-Length, or
  cut off as it streams, before Streamlit holds it in memory.
- **No ``Access-Control-Allow-Origin: *``** on anything this server sends.
- **Graph files** for the Netron viewer come from the artifact store under TRIMLINE_HOME through a
  short-lived signed link per view (``graph_url``), never from a copy in the code tree.
"""
from __future__ import annotations

import html
import logging
import urllib.parse
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app import auth, netron_view
from engine import api
from engine.errors import EngineError, InputError

log = logging.getLogger("trimline.guard")

LOGIN, LOGOUT, GRAPH = "/trimline/login", "/trimline/logout", "/trimline/graph"
PUBLIC = {LOGIN, "/_stcore/health"}
UPLOAD_PREFIX = "/_stcore/upload_file"
GRAPH_LINK_S = 600
MAX_LOGIN_BODY = 4096


def upload_limit_bytes() -> int:
    from streamlit import config

    return int(config.get_option("server.maxUploadSize")) << 20


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8501
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware wrapped around Streamlit's own (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = _host_name(headers.get("host", ""))
        if host not in api.allowed_hosts():
            log.warning("refused a request for host %r (allowed: %s)", host, sorted(api.allowed_hosts()))
            return await _refuse(scope, receive, send, 403, f"this studio does not answer to the host name {host!r}; "
                                 "add it to TRIMLINE_ALLOWED_HOSTS if it is yours")
        try:
            needs_login = auth.login_required()
        except InputError as exc:
            return await _refuse(scope, receive, send, 503, str(exc))
        path = scope["path"]
        if needs_login and path not in PUBLIC and not auth.session_account(_cookie(headers)):
            if scope["type"] == "http" and scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
                target = LOGIN + "?" + urllib.parse.urlencode({"next": path})
                return await RedirectResponse(target, status_code=303)(scope, receive, send)
            return await _refuse(scope, receive, send, 401, "sign in first")
        if scope["type"] == "http" and path.startswith(UPLOAD_PREFIX):
            limit = upload_limit_bytes()
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                return await _refuse(scope, receive, send, 413, f"the upload is larger than {limit >> 20} MB")
            receive, send = _capped(receive, send, limit)
        await self.app(scope, receive, _no_wildcard_cors(send))


def _cookie(headers: Headers) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == auth.SESSION_COOKIE:
            return value
    return None


async def _refuse(scope: dict, receive: Any, send: Any, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": text[:120]})
        return
    await PlainTextResponse(text + "\n", status_code=status)(scope, receive, send)


def _capped(receive: Any, send: Any, limit: int) -> tuple[Any, Any]:
    """Count a streamed body; past ``limit`` the app sees a disconnect and the client gets 413."""
    state = {"read": 0, "over": False, "answered": False}

    async def capped_receive() -> dict:
        message = await receive()
        if message["type"] == "http.request":
            state["read"] += len(message.get("body", b""))
            if state["read"] > limit:
                state["over"] = True
                return {"type": "http.disconnect"}
        return message

    async def capped_send(message: dict) -> None:
        if not state["over"]:
            return await send(message)
        if not state["answered"]:
            state["answered"] = True
            body = f"the upload is larger than {limit >> 20} MB\n".encode()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

    return capped_receive, capped_send


def _no_wildcard_cors(send: Any) -> Any:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                  if not (k.lower() == b"access-control-allow-origin" and v.strip() == b"*")]
        await send(message)
    return wrapped


# ---------------------------------------------------------------- sign-in pages
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trimline: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 24rem; margin: 4rem auto">
<h1>Trimline</h1><p>This studio is shared with a team. Sign in with your account, or with the team password.</p>
<p style="color: #b91c1c">{message}</p>
<form method="post" action="{action}"><input type="hidden" name="next" value="{next}">
<label>Account <input name="account" placeholder="team (the team password)" autocomplete="username"></label><br>
<label>Password <input type="password" name="password" autofocus required></label>
<button type="submit">Sign in</button></form></body></html>"""


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


def _login_page(next_path: str, message: str = "", status: int = 200, headers: dict | None = None) -> HTMLResponse:
    page = _PAGE.format(message=html.escape(message), action=LOGIN, next=html.escape(_safe_next(next_path)))
    return HTMLResponse(page, status_code=status, headers=headers)


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _login_page(request.query_params.get("next", "/"))
    origin = request.headers.get("origin")
    if origin and _host_name(urllib.parse.urlsplit(origin).netloc) != _host_name(request.headers.get("host", "")):
        return PlainTextResponse("a sign-in must come from this studio's own page\n", status_code=403)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            return PlainTextResponse("the sign-in form is too large\n", status_code=413)
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    next_path = form.get("next", ["/"])[0]
    client = request.client.host if request.client else "unknown"
    account = form.get("account", [""])[0].strip() or auth.TEAM
    result = auth.sign_in(client, form.get("password", [""])[0], account)
    if result.retry_after_s:
        wait = int(result.retry_after_s) + 1
        return _login_page(next_path, f"Too many wrong passwords; try again in {wait} s.", 429,
                           {"Retry-After": str(wait)})
    if not result.account:
        return _login_page(next_path, "That password is not right.", 401)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, auth.session_token(result.account), max_age=auth.SESSION_S,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- the graph viewer's model files
def graph_url(model_id: int, fmt: str) -> str | None:
    """A link to one model's graph file, signed for this process and valid for GRAPH_LINK_S."""
    file = netron_view.viewable_file(api.model_path(model_id), fmt)
    if file is None or file.stat().st_size > netron_view.MAX_VIEW_BYTES:
        return None
    name = urllib.parse.quote(netron_view.view_name(file, fmt))
    return f"{GRAPH}/{int(model_id)}/{auth.sign(f'graph:{int(model_id)}', GRAPH_LINK_S)}/{name}"


def viewer_link(model_id: int, fmt: str) -> str | None:
    """The Netron viewer opened on one model's signed graph link, or None when it cannot be shown."""
    link = graph_url(model_id, fmt)
    return netron_view.viewer_url(link) if link else None


async def graph(request: Request) -> Response:
    model_id, stamp = request.path_params["model_id"], request.path_params["stamp"]
    if not model_id.isdigit() or not auth.verify(f"graph:{model_id}", stamp):
        return PlainTextResponse("this graph link has expired; open the model's Graph tab again\n", status_code=403)
    try:
        model = api.get_model(int(model_id))
        file = netron_view.viewable_file(api.model_path(model.id), model.format)
    except EngineError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=404)
    if file is None:
        return PlainTextResponse("this model has no file the graph viewer can open\n", status_code=404)
    return FileResponse(file, media_type="application/octet-stream",
                        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


def routes() -> list[Route]:
    return [Route(LOGIN, login, methods=["GET", "POST"]), Route(LOGOUT, logout, methods=["GET", "POST"]),
            Route(GRAPH + "/{model_id}/{stamp}/{name}", graph, methods=["GET"])]
