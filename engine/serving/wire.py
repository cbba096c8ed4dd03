"""The server's HTTP connections: uvicorn's httptools protocol, with what one step of the event loop writes
to a connection sent in one system call, and a request body handed to the app whole.

uvicorn writes a response's head (status line and headers) as soon as the app sends
``http.response.start`` and its body on the next message, and uvloop sends each write at once. The head
arriving alone wakes the client, which on a busy 2-core machine takes a core from the server before the
body is written, then waits and wakes again for the body (0.1-0.4 ms per request measured with
``bench/serving_trace.py``). Holding a connection's writes until the end of the current step of the loop
sends head and body together; ``transport.write`` only ever promised to send eventually, and flow control
still works (the real transport pauses the protocol as before, one step later).

uvicorn also pauses reading once 64 KB of body wait and wakes the app after every read of the socket (256 KB
with uvloop): a 600 KB image took three trips through the app's ``receive`` and a pause and resume of the
socket for each. Here the app is woken when the body is complete, or when 4 MB wait (reading pauses then
too, so a connection still holds a bounded amount; ``read_body`` refuses what passes the server's limit).
"""
from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

BODY_BUFFER = 4 << 20


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


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a ``CoalescingTransport`` and buffering a body up to
    ``BODY_BUFFER`` before waking the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_body(self, body: bytes) -> None:
        """uvicorn's ``on_body`` (uvicorn is pinned), with the 64 KB pause and wake-up moved to ``BODY_BUFFER``;
        ``on_message_complete`` and a disconnect wake the app as before."""
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        cycle.body += body
        if len(cycle.body) > BODY_BUFFER:
            self.flow.pause_reading()
            cycle.message_event.set()
