"""The ASGI application: both protocols, /metrics, Triton's model-repository control, token checks.

Models load during start-up, so the server listens (and ``/v2/health/ready`` answers 200) only once
every model is loaded; a model that fails to load stops the start with its sentence.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from engine.artifact import Artifact
from engine.serving import tfserving, v2
from engine.serving.common import ServerOptions, ServerRuntime, error_handlers, runtime_of
from engine.serving.fastpath import InferFastPath
from engine.serving.memory import MemoryGuard
from engine.serving.metrics import ServingMetrics
from engine.serving.repository import Repository
from engine.serving.settings import Deployment

log = logging.getLogger("trimline.serve")


class TokenGate:
    """Pure ASGI middleware: with a token set, every request needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app, self.token = app, token.encode() if token else None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if self.token is None or scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        if given.startswith(b"Bearer ") and hmac.compare_digest(given[7:].strip(), self.token):
            return await self.app(scope, receive, send)
        response = JSONResponse({"error": "this server needs an 'Authorization: Bearer <token>' header with its "
                                          "token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


async def follow(repository: Repository, reread: Callable[[str], Deployment], every_s: float = 2.0) -> None:
    """Apply saved changes to the served deployments as they appear (a new champion's version, a moved
    label, new settings), loading beside what serves and swapping atomically, even when nobody asks the
    server to reload. A change that fails to load is logged once and not retried until it changes again."""
    failed: dict[str, Deployment] = {}
    while True:
        await asyncio.sleep(every_s)
        for name, served in list(repository.models.items()):
            try:
                saved = await asyncio.get_running_loop().run_in_executor(None, reread, name)
            except Exception:  # noqa: BLE001  (removed or damaged: keep serving what is loaded)
                continue
            if saved == served.deployment or failed.get(name) == saved:
                continue
            try:
                await repository.apply(saved)
                log.info("applied the saved changes to %s", name)
            except Exception as exc:  # noqa: BLE001
                failed[name] = saved
                log.warning("the saved changes to %s did not load, still serving the previous ones: %s", name, exc)


def create_app(deployments: list[Deployment], options: ServerOptions,
               artifact_for: Callable[[int], Artifact], reread: Callable[[str], Deployment] | None = None,
               load_errors: list | None = None, on_memory_exceeded: Callable[[str], None] | None = None) -> FastAPI:
    """The server for ``deployments``. ``reread(name)`` returns a deployment's current definition for
    ``POST /v2/repository/models/{name}/load``; start-up failures are appended to ``load_errors``. With
    ``options.memory_mb`` the server keeps to that limit and calls ``on_memory_exceeded(sentence)`` when it
    must stop (``engine.serving.memory``)."""
    metrics = ServingMetrics(options.memory_mb)
    guard = None
    if options.memory_mb:
        guard = MemoryGuard(options.memory_mb, on_memory_exceeded or (lambda sentence: None))
    runtime = ServerRuntime(Repository(metrics, artifact_for, guard), metrics, options)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        if guard is not None:  # watching from the first load; the start counts as one load
            guard.start()
            guard.begin()
        try:
            for deployment in deployments:
                await runtime.repository.apply(deployment)
        except Exception as exc:
            if guard is not None:
                guard.stop()  # the start failed: the server exits with the sentence, not the watchdog's
            if load_errors is not None:
                load_errors.append(exc)
            raise
        finally:
            if guard is not None:
                guard.end()
        app.state.ready = True
        follower = asyncio.get_running_loop().create_task(follow(runtime.repository, reread)) if reread else None
        yield
        if follower is not None:
            follower.cancel()
        for name in list(runtime.repository.models):
            await runtime.repository.unload(name)
        if guard is not None:
            guard.stop()

    app = FastAPI(title="Trimline serving", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  exception_handlers=error_handlers())
    app.state.runtime, app.state.ready = runtime, False
    app.include_router(v2.router)
    app.include_router(tfserving.router)

    @app.get("/metrics")
    async def metrics_route() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/v2/repository/index")
    async def index(request: Request) -> JSONResponse:
        rows = [{"name": name, "version": str(v), "state": "READY"}
                for name, served in runtime_of(request).repository.models.items() for v in sorted(served.versions)]
        return JSONResponse(rows)

    @app.post("/v2/repository/models/{name}/load")
    async def load(request: Request, name: str) -> JSONResponse:
        if reread is None:
            return JSONResponse({"error": "this server was not started from saved deployments"}, status_code=400)
        served = await runtime.repository.apply(reread(name))
        return JSONResponse({"name": name, "versions": sorted(served.versions), "labels": served.labels})

    @app.post("/v2/repository/models/{name}/unload")
    async def unload(request: Request, name: str) -> JSONResponse:
        runtime.lookup(name)
        await runtime.repository.unload(name)
        return JSONResponse({"name": name, "unloaded": True})

    @app.get("/v2/models/{name}/stats")
    async def stats(request: Request, name: str) -> JSONResponse:
        served = runtime.repository.models.get(name)
        runtime.lookup(name)
        cache = served.cache
        return JSONResponse({"name": name, "labels": served.labels,
                             "versions": [v.describe() for v in served.versions.values()],
                             "cache": None if cache is None else {
                                 "entries": len(cache), "bytes": cache.bytes, "hits": cache.hits,
                                 "misses": cache.misses, "hit_rate": cache.hit_rate()}})

    return TokenGate(InferFastPath(app, runtime), options.token)  # type: ignore[return-value]
