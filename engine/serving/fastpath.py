"""The two inference routes answered ahead of FastAPI's routing: a pure ASGI layer that matches
``POST /v2/models/{name}[/versions/{v}]/infer`` (KServe V2) and ``POST /v1/models/...`` (TF Serving
``:predict``) by their paths and calls the very route functions FastAPI would, with the same error
handlers. Everything else goes to FastAPI. This saves the middleware stack, the matching of every route
and the dependency resolution on the one path each request takes; what a client sees is unchanged. It
also counts the inference requests in flight (``scheduler.REQUESTS``).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from starlette.requests import Request

from engine.serving import tfserving, v2
from engine.serving.common import error_handlers
from engine.serving.scheduler import REQUESTS

_V2 = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")
_V1 = "/v1/models/"


class InferFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.handlers = error_handlers()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path.startswith(_V1):
            call = tfserving.predict
            args: tuple = (path[len(_V1):],)
        else:
            match = _V2.fullmatch(path)
            if match is None:
                return await self.app(scope, receive, send)
            call, args = v2.infer, match.groups()
        scope["app"] = self.app
        request = Request(scope, receive)
        with REQUESTS:  # counted until the response is sent: a lone request may run on the loop's thread
            try:
                response = await call(request, *args)
            except Exception as exc:  # the handlers FastAPI would use; anything else is a 500 as before
                handler = next((self.handlers[k] for k in type(exc).__mro__ if k in self.handlers), None)
                if handler is None:
                    raise
                response = await handler(request, exc)
            await response(scope, receive, send)
