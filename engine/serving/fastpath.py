"""The two inference routes answered ahead of FastAPI's routing: a pure ASGI layer that matches
``POST /v2/models/{name}[/versions/{v}]/infer`` (KServe V2) and ``POST /v1/models/...`` (TF Serving
``:predict``) by their paths and calls the very route functions FastAPI would, with the same error
handlers. Everything else goes to FastAPI. This saves the middleware stack, the matching of every route
and the dependency resolution on the one path each request takes; what a client sees is unchanged. It
also counts the inference requests in flight (``scheduler.REQUESTS``), and refuses one past the server's
``max_in_flight`` with 503 before its body is read: a flood of clients meets a sentence and ``Retry-After``,
not a queue that grows until the memory limit stops the server.
"""
from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.serving import tfserving, v2
from engine.serving.common import ServerRuntime, error_handlers
from engine.serving.scheduler import REQUESTS, InFlight
from engine.serving.wire import match_infer


class InferFastPath:
    def __init__(self, app: Any, runtime: ServerRuntime) -> None:
        self.app, self.runtime = app, runtime
        self.handlers = error_handlers()
        self.answering = InFlight()  # this server's own (REQUESTS counts every server's in this process)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        route = match_infer(scope["path"])
        if route is None:
            return await self.app(scope, receive, send)
        call, args = (tfserving.predict if route[0] == "v1" else v2.infer), route[1]
        scope["app"] = self.app
        limit = self.runtime.options.max_in_flight
        if self.answering.value >= limit:
            self.runtime.metrics.rejected.inc()
            busy = JSONResponse({"error": f"this server is answering its limit of {limit} requests at once; "
                                          "try again shortly"},
                                status_code=503, headers={"Retry-After": "1", "Connection": "close"})
            return await busy(scope, receive, send)
        request = Request(scope, receive)
        # Counted until the response is sent: a lone request may run on the loop's thread.
        with REQUESTS, self.answering:
            try:
                response = await call(request, *args)
            except Exception as exc:  # the handlers FastAPI would use; anything else is a 500 as before
                handler = next((self.handlers[k] for k in type(exc).__mro__ if k in self.handlers), None)
                if handler is None:
                    raise
                response = await handler(request, exc)
            await response(scope, receive, send)
