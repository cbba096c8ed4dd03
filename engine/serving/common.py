"""What both protocols share: the server's runtime state, bounded body reads, errors as one sentence,
and counting every inference in the metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from engine.errors import EngineError, InputError, NotFoundError
from engine.serving.metrics import ServingMetrics
from engine.serving.repository import Repository
from engine.serving.scheduler import LoadedVersion
from engine.serving.wire import ALIGN, BODY_KEY, MAX_BODY_BYTES, READ_TIMEOUT_S, DirectBody, aligned_buffer


class BodyTooLarge(Exception):
    """The request body is beyond the server's limit."""


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8600
    token: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_tensor_elements: int = 16 << 20
    read_timeout_s: float = READ_TIMEOUT_S  # a request stalled this long, or a silent new connection: closed
    memory_mb: int | None = None  # the server's memory limit (engine.serving.memory); None: none
    max_in_flight: int = 1024  # inference requests answered at once; one more gets 503 before its body is read


class ServerRuntime:
    def __init__(self, repository: Repository, metrics: ServingMetrics, options: ServerOptions) -> None:
        self.repository, self.metrics, self.options = repository, metrics, options

    def lookup(self, name: str, version: str | None = None, label: str | None = None) -> LoadedVersion:
        number = None
        if version is not None:
            if not version.isdigit():
                raise InputError(f"version must be a positive integer, got '{version}'")
            number = int(version)
        return self.repository.get(name, number, label)

    def count_failure(self, served: LoadedVersion, reason: str) -> None:
        labels = {"model": served.name, "version": str(served.version)}
        self.metrics.requests.labels(**labels).inc()
        self.metrics.failures.labels(**labels, reason=reason).inc()


def runtime_of(request: Request) -> ServerRuntime:
    return request.app.state.runtime


def bad_request(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_body(request: Request, limit: int, binary_from: int | None = None) -> bytes | memoryview:
    """The body, refused with ``BodyTooLarge`` as soon as it passes ``limit`` (chunked bodies included).

    An inference body the connection read straight into its own buffer (``wire.ServingHttpProtocol``) is
    taken from the scope, without a copy. Otherwise it is read from the ASGI messages: a body of one message
    is returned as it came. With ``binary_from`` (where a binary-tensor body's raw bytes begin) the body is
    laid out so that those bytes start on a 64-byte boundary: numpy views of them are aligned, and the runtime
    reads an input in place instead of first copying it (ONNX Runtime copies an array that is not, 70 us for a
    600 KB image)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks, size, receive = [], 0, request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if not chunks:  # empty, or read straight into its buffer by the connection (complete: receive() said so)
        direct = request.scope.get(BODY_KEY)
        return direct.view if direct is not None else b""
    if binary_from is not None and size > binary_from and not _aligned_in(chunks, binary_from):
        return _assemble_aligned(chunks, size, binary_from)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body_early(request: Request, limit: int,
                          binary_from: int | None) -> tuple[bytes | memoryview, DirectBody | None]:
    """(body, pending): as ``read_body``, except that a binary-tensor body the connection is still reading
    straight into its buffer is returned as soon as its JSON part (``binary_from`` bytes) has come, with
    ``pending`` to await (``wait_for``) before its tensors are used. The JSON is parsed and the tensors' views
    made while the client is still sending them, instead of after."""
    direct = request.scope.get(BODY_KEY)
    if (direct is not None and binary_from is not None and direct.filled >= binary_from
            and request.headers.get("expect") is None):  # a client expecting "100 Continue" gets it from receive()
        return direct.view, direct
    return await read_body(request, limit, binary_from), None


async def wait_for(pending: DirectBody | None) -> None:
    """Until a body returned early by ``read_body_early`` has all come; ``ClientDisconnect`` if the client left."""
    if pending is not None and not await pending.done:
        raise ClientDisconnect()


def _aligned_in(chunks: list[bytes], offset: int) -> bool:
    """Whether a body of this one chunk already has its byte ``offset`` on a 64-byte boundary."""
    return len(chunks) == 1 and (np.frombuffer(chunks[0], np.uint8).ctypes.data + offset) % ALIGN == 0


def _assemble_aligned(chunks: list[bytes], size: int, offset: int) -> memoryview:
    """The chunks copied once (as joining them would) into a fresh buffer, byte ``offset`` aligned."""
    buffer, at = aligned_buffer(size, offset), 0
    for chunk in chunks:
        buffer[at:at + len(chunk)] = chunk
        at += len(chunk)
    return buffer


async def infer_and_count(runtime: ServerRuntime, served: LoadedVersion,
                          feeds: dict[str, np.ndarray]) -> list[np.ndarray] | Response:
    """Run ``served`` on ``feeds``, recording requests, failures, latency and in-flight requests."""
    requests, latency, inflight = served.counted
    inflight.inc()
    started = time.perf_counter()
    try:
        outputs = await served.infer(feeds)
    except ValueError as exc:
        runtime.metrics.failures.labels(served.name, str(served.version), "bad_input").inc()
        return bad_request(str(exc))
    except Exception as exc:  # a runtime failure answers 500 with a sentence; the server keeps serving
        runtime.metrics.failures.labels(served.name, str(served.version), "runtime").inc()
        first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return bad_request(f"the model failed on this input ({first})", status=500)
    finally:
        inflight.dec()
        requests.inc()
    latency.observe(time.perf_counter() - started)
    return outputs


def error_handlers() -> dict:
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return bad_request(str(exc), status=404 if isinstance(exc, NotFoundError) else 400)

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        limit = runtime_of(request).options.max_body_bytes
        return bad_request(f"the request body is larger than this server's limit of {limit} bytes", status=413)

    async def gone(request: Request, exc: Exception) -> Response:
        return Response(status_code=499)  # the client left; nobody reads this

    async def engine_error(request: Request, exc: Exception) -> JSONResponse:  # e.g. a new version failed to load
        return bad_request(str(exc), status=500)

    return {InputError: not_found, EngineError: engine_error, BodyTooLarge: too_large, ClientDisconnect: gone}
