"""The server's HTTP connections: uvicorn's httptools protocol, with what one step of the event loop writes
to a connection sent in one system call, and an inference request's body read by the kernel straight into
the one buffer the model will read it from.

**Writes.** uvicorn writes a response's head (status line and headers) as soon as the app sends
``http.response.start`` and its body on the next message, and uvloop sends each write at once. The head
arriving alone wakes the client, which on a busy 2-core machine takes a core from the server before the
body is written, then waits and wakes again for the body (0.1-0.4 ms per request measured with
``bench/serving_trace.py``). Holding a connection's writes until the end of the current step of the loop
sends head and body together; ``transport.write`` only ever promised to send eventually, and flow control
still works (the real transport pauses the protocol as before, one step later).

**Bodies.** Through uvicorn a 600 KB image was copied five times on the loop's thread before the model saw
it: out of the loop's read buffer into a ``bytes``, by the parser into another, onto the request's growing
``bytearray`` (reallocated as it grew), into the ``bytes`` of the ASGI message, and into a 64-byte aligned
buffer for ONNX Runtime (which copies an unaligned input itself). That was 0.8-1.1 ms of the loop's time per
request on a 2-core machine, more than the rest of the server's work together. This protocol is a
``BufferedProtocol``: once the head of an inference request (``POST`` to an infer or predict route, with a
``Content-Length`` within the server's limit) is parsed, the rest of its body is read by ``recv`` directly
into a buffer of exactly its size, laid out so that the binary tensors begin on a 64-byte boundary
(Triton's ``Inference-Header-Content-Length`` says where). The app finds it in the request's scope under
``BODY_KEY`` from the start, as a ``DirectBody`` still filling: the V2 route parses its JSON part and makes the
tensors' views while the client is still sending the tensors (``common.read_body_early``), then waits for the
rest. Once all has come, the parser is replaced by a fresh one for the connection's next request; the ASGI
message itself carries no bytes. Anything else (other routes, chunked bodies, small bodies) goes through
uvicorn's parser as before.
"""
from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import httptools
import numpy as np
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

BODY_KEY = "trimline.body"  # the scope key of a body read straight into its buffer
ALIGN = 64
DIRECT_MIN = 32 << 10  # a smaller body is not worth a buffer of its own
READ_SIZE = 16 << 10  # the loop's read buffer for heads and small bodies: an inference body past it goes direct
INFER_HEADER = b"inference-header-content-length"
MAX_BODY_BYTES = 64 << 20  # the defaults of ``ServerOptions``: a larger body gets 413
READ_TIMEOUT_S = 30.0  # a request's bytes stalled this long (or none sent on a new connection): closed

_V2_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")
V1_PREFIX = "/v1/models/"
_SCRATCH = threading.local()  # one read buffer per event loop thread: the parser copies what it keeps


def match_infer(path: str) -> tuple[str, tuple] | None:
    """("v1", (rest of the path,)) for a TF Serving route, ("v2", (name, version)) for a V2 infer route,
    None for any other path. The routes are answered ahead of FastAPI (``fastpath``)."""
    if path.startswith(V1_PREFIX):
        return "v1", (path[len(V1_PREFIX):],)
    match = _V2_INFER.fullmatch(path)
    return ("v2", match.groups()) if match else None


def aligned_buffer(size: int, offset: int) -> memoryview:
    """A fresh writable buffer of ``size`` bytes whose byte ``offset`` lies on a 64-byte boundary. Fresh for
    every request: concurrent requests never share one, and a cached or queued input stays intact."""
    raw = np.empty(size + ALIGN, np.uint8)
    start = -(raw.ctypes.data + offset) % ALIGN
    return memoryview(raw)[start:start + size]


class CoalescingTransport:
    """A transport whose writes in one step of the loop leave together, at the end of that step."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def writelines(self, chunks: list[bytes]) -> None:
        for data in chunks:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)  # one sendmsg/writev, not a copy into one buffer

    def close(self) -> None:
        self.flush()  # what was written before close is sent before the connection closes, as before
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # pause/resume_reading, is_closing, get_extra_info, abort ...
        return getattr(self._transport, name)


class ServingHttpProtocol(asyncio.BufferedProtocol):
    """What uvicorn is given as its HTTP protocol: a ``BufferedProtocol`` in front of ``HttpConnection``.

    uvloop reads into a protocol's own buffers only when it is not also an ``asyncio.Protocol``, which uvicorn's
    protocol is; so this one holds the connection and hands the loop its methods (bound once, here: no extra
    call on each read). ``max_body_bytes`` is set per server by ``for_limit``: a body declared larger never gets
    a buffer (the route answers 413)."""

    max_body_bytes = MAX_BODY_BYTES
    read_timeout_s = READ_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        http = self.http = HttpConnection(*args, **kwargs)
        http.max_body_bytes, http.read_timeout_s = self.max_body_bytes, self.read_timeout_s
        self.get_buffer, self.buffer_updated = http.get_buffer, http.buffer_updated  # type: ignore[method-assign]
        self.connection_made, self.connection_lost = http.connection_made, http.connection_lost  # type: ignore
        self.eof_received = http.eof_received  # type: ignore[method-assign]
        self.pause_writing, self.resume_writing = http.pause_writing, http.resume_writing  # type: ignore

    @classmethod
    def for_limit(cls, max_body_bytes: int, read_timeout_s: float = READ_TIMEOUT_S) -> type["ServingHttpProtocol"]:
        return type(cls.__name__, (cls,), {"max_body_bytes": max_body_bytes, "read_timeout_s": read_timeout_s})


class HttpConnection(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a ``CoalescingTransport`` and reading inference bodies
    straight into their own aligned buffer (see the module's note)."""

    max_body_bytes = MAX_BODY_BYTES
    read_timeout_s = READ_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._body: DirectBody | None = None  # the body being read straight into its buffer
        # A request whose bytes stop coming (or a connection that never sends one) is closed after
        # ``read_timeout_s``: uvicorn times out only idle keep-alive connections, so a client could hold any
        # number of half-sent requests open. One timer per connection, re-armed only when it fires.
        self._last_read, self._reading, self._begun, self._cycle_before = self.loop.time(), True, False, None
        self._read_timer: asyncio.TimerHandle | None = self.loop.call_later(self.read_timeout_s, self._check_read)

    def connection_lost(self, exc: Exception | None) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.finish(False)
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        super().connection_lost(exc)

    def _check_read(self) -> None:
        self._read_timer = None
        if not self._reading or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the app has not taken what came yet (uvicorn's flow control): not the client's
            self._last_read = self.loop.time()
        idle = self.loop.time() - self._last_read
        if idle < self.read_timeout_s:
            self._read_timer = self.loop.call_later(self.read_timeout_s - idle, self._check_read)
            return
        cycle = self.cycle if self.cycle is not self._cycle_before else None  # this request's, once its head came
        if self._begun and not (cycle is not None and cycle.response_started):  # a request began: say why
            text = f'{{"error":"the request stopped arriving for {self.read_timeout_s:g} s"}}'.encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(text), text))
        body, self._body = self._body, None
        if body is not None:
            body.finish(False)  # the app waiting for it sees a client that left
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading, self._begun, self._cycle_before = True, True, self.cycle
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_timeout_s, self._check_read)

    # ------------------------------------------------------------------ BufferedProtocol
    def get_buffer(self, sizehint: int) -> memoryview:
        if self._body is not None:
            return self._body.view[self._body.filled:]
        scratch = getattr(_SCRATCH, "view", None)
        if scratch is None:
            scratch = _SCRATCH.view = memoryview(bytearray(READ_SIZE))
        return scratch

    def buffer_updated(self, nbytes: int) -> None:
        self._last_read = self.loop.time()
        body = self._body
        if body is None:
            self.data_received(_SCRATCH.view[:nbytes])
            return
        body.filled += nbytes
        if body.filled == len(body.view):
            # The parser never saw these bytes: the connection's next request starts with a fresh one.
            self.parser = httptools.HttpRequestParser(self)
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn sets its own
            self.on_message_complete()

    # ------------------------------------------------------------------ parser callbacks
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._body = None
        length = self._direct_length()
        if length is not None:
            offset = next((int(v) for k, v in self.headers if k == INFER_HEADER and v.isdigit()), 0)
            try:  # address space only: pages are taken as the body arrives, as uvicorn's buffer took them
                view = aligned_buffer(length, offset if offset <= length else 0)
            except MemoryError:  # the server's address-space limit: this body goes through the parser instead
                return
            self._body = DirectBody(view, self.loop)
            self.scope[BODY_KEY] = self._body  # type: ignore[literal-required]  (the app starts after this)

    def _direct_length(self) -> int | None:
        """The body's length when it is to be read straight into its own buffer, else None."""
        scope = self.scope
        if scope.get("method") != "POST" or "path" not in scope or match_infer(scope["path"]) is None:
            return None
        length = None
        for name, value in self.headers:
            if name == b"content-length":
                if length is not None or not value.isdigit():
                    return None  # repeated or malformed: the parser's own rules apply
                length = int(value)
            elif name == b"transfer-encoding":
                return None
        if length is None or not DIRECT_MIN <= length <= self.max_body_bytes:
            return None
        return length

    def on_body(self, body: bytes) -> None:
        direct = self._body
        if direct is None:
            return super().on_body(body)
        # The part of the body that came with the head (this read of the socket): copied once, as before.
        direct.view[direct.filled:direct.filled + len(body)] = body
        direct.filled += len(body)

    def on_response_complete(self) -> None:
        """The whole response is written: it leaves now, while the app's own bookkeeping after its last ``send``
        (and the task's end) runs, instead of after them at the end of the loop's step."""
        self.transport.flush()  # type: ignore[attr-defined]  (a CoalescingTransport)
        super().on_response_complete()

    def on_message_complete(self) -> None:
        self._reading = self._begun = False  # the request is all here; uvicorn's keep-alive timeout takes over
        body, self._body = self._body, None
        if body is not None:
            body.finish(True)
        super().on_message_complete()


class DirectBody:
    """An inference body being read straight into ``view`` (its whole length, filled from the front): ``filled``
    bytes have come so far, and ``done`` resolves to True once all have, or False if the client left first. The
    app may read what has come (the JSON header of a binary-tensor request) while the rest is still arriving."""

    __slots__ = ("view", "filled", "done")

    def __init__(self, view: memoryview, loop: asyncio.AbstractEventLoop) -> None:
        self.view, self.filled, self.done = view, 0, loop.create_future()

    def finish(self, complete: bool) -> None:
        if not self.done.done():
            self.done.set_result(complete)
