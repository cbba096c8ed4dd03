"""The hot path: binary KServe V2 bodies (chunked too) read without copies are still checked for shape,
dtype and size; a lone request runs on the event loop's thread, concurrent or slow ones on the pool's."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np
import pytest
import requests

from engine import api
from tests.servers import wait_for
from tests.serving.conftest import start_server

HEADER = "Inference-Header-Content-Length"


@pytest.fixture(scope="module")
def server(studio):
    from engine.serving.deployments import load

    api.serving.plan([studio[1]], name="hot", settings={"intra_threads": 1})
    srv = start_server([load("hot")], max_tensor_elements=100_000)
    yield srv
    srv.stop()


def _binary(name: str, shape: list[int], datatype: str, raw: bytes, size: int | None = None) -> tuple[bytes, dict]:
    head = json.dumps({"inputs": [{"name": name, "shape": shape, "datatype": datatype,
                                   "parameters": {"binary_data_size": len(raw) if size is None else size}}],
                       "parameters": {"binary_data_output": True}}).encode()
    return head + raw, {HEADER: str(len(head)), "Content-Type": "application/octet-stream"}


def test_binary_request_in_a_chunked_body_matches_onnxruntime(server, studio, reference):
    from engine.serving.client import decode_infer

    name, expected = reference
    body, headers = _binary(name, list(studio[3].shape), "FP32", studio[3].tobytes())
    pieces = [body[i:i + 700] for i in range(0, len(body), 700)]  # Transfer-Encoding: chunked, no Content-Length
    response = requests.post(f"{server.url}/v2/models/hot/infer", data=iter(pieces), headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    outputs = decode_infer({k.lower(): v for k, v in response.headers.items()}, response.content)
    np.testing.assert_allclose(next(iter(outputs.values())), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, datatype, dtype, size, sentence", [
    ([4, 8, 8, 2], "FP32", np.float32, None, "expects shape [-1, 8, 8, 1] and datatype FP32; got shape [4, 8, 8, 2]"),
    ([4, 8, 8, 1], "FP64", np.float64, None, "expects shape [-1, 8, 8, 1] and datatype FP32; got shape [4, 8, 8, 1] "
                                             "and datatype FP64"),
    ([4, 8, 8, 1], "FP32", np.float32, 1020, "declares 1020 binary bytes; shape [4, 8, 8, 1] of FP32 needs 1024"),
    ([4000, 8, 8, 1], "FP32", np.float32, 1024, "has 256000 elements, more than this server's limit of 100000"),
])
def test_binary_input_is_checked_for_shape_dtype_and_size(server, studio, reference, shape, datatype, dtype, size,
                                                          sentence):
    count = int(np.prod(shape)) if size is None else 256
    raw = np.zeros(count, dtype).tobytes()
    for chunked in (False, True):
        body, headers = _binary(reference[0], shape, datatype, raw, size)
        data = iter([body[:100], body[100:]]) if chunked else body
        response = requests.post(f"{server.url}/v2/models/hot/infer", data=data, headers=headers, timeout=10)
        assert response.status_code == 400 and sentence in response.json()["error"], response.text
    good, headers = _binary(reference[0], list(studio[3].shape), "FP32", studio[3].tobytes())
    assert requests.post(f"{server.url}/v2/models/hot/infer", data=good, headers=headers, timeout=10).ok


@pytest.fixture()
def version(studio):
    """A loaded version whose instances record the thread each run happens on."""
    from engine.serving.deployments import artifact_for
    from engine.serving.metrics import ServingMetrics
    from engine.serving.scheduler import LoadedVersion
    from engine.serving.settings import ModelSettings

    loaded = LoadedVersion.load("hot", 1, studio[1], artifact_for(studio[1]), ModelSettings(intra_threads=1),
                                ServingMetrics(), None)
    instance = loaded._free.get()
    run, loaded.threads = instance.run, []

    def recording(feeds):  # noqa: ANN001, ANN202
        loaded.threads.append(threading.current_thread().name)
        time.sleep(loaded.slowed_s)  # the machine's other work, when a test asks for it
        return run(feeds)

    loaded.slowed_s = 0.0

    instance.run = recording
    loaded._free.put(instance)
    yield loaded
    asyncio.run(loaded.retire(grace_s=1))


def test_a_lone_request_runs_on_the_loop_and_others_on_the_pool(version, reference, studio):
    from engine.serving.scheduler import INLINE_MAX_S, RECENT_RUNS, REQUESTS

    feeds = {reference[0]: studio[3]}

    async def answer(also_in_flight: int) -> tuple[list[np.ndarray], str]:
        for _ in range(also_in_flight + 1):  # this request and the others the routes are answering
            REQUESTS.__enter__()
        try:
            return await version.infer(feeds), threading.current_thread().name
        finally:
            for _ in range(also_in_flight + 1):
                REQUESTS.__exit__()

    version._fastest_run_s = 0.0  # as fast as the digits model is, whatever the machine's load did to the warm-up
    outputs, loop_thread = asyncio.run(answer(0))
    assert version.threads == [loop_thread]
    np.testing.assert_allclose(outputs[0], reference[1], rtol=1e-5, atol=1e-6)
    outputs, _ = asyncio.run(answer(1))
    assert version.threads[-1].startswith("hot-v1"), "a second request in flight sends this one to the pool"
    np.testing.assert_allclose(outputs[0], reference[1], rtol=1e-5, atol=1e-6)
    version._recent_runs.clear()
    version._recent_runs.extend([0.001] * (RECENT_RUNS - 1))
    version._fastest_run_s = 0.001
    version.slowed_s = INLINE_MAX_S * 2  # one run slowed past the bound
    asyncio.run(answer(0))
    version.slowed_s = 0.0
    asyncio.run(answer(0))
    assert version.threads[-2:] == [loop_thread] * 2, "one slow run among fast ones keeps a lone request on the loop"
    version._recent_runs.clear()
    version._recent_runs.extend([INLINE_MAX_S * 2] * RECENT_RUNS)
    version._fastest_run_s = INLINE_MAX_S * 2
    asyncio.run(answer(0))
    assert version.threads[-1].startswith("hot-v1"), "a model slower than the bound runs on the pool"
    samples = version.metrics.registry.get_sample_value("trimline_batch_size_count", {"model": "hot", "version": "1"})
    assert samples == 5  # every request is counted wherever it ran


def _read_body(body: bytes, pieces: list[int], binary_from: int):  # noqa: ANN202
    """``read_body`` over a real Starlette request whose body arrives in ASGI messages cut at ``pieces``."""
    from starlette.requests import Request

    from engine.serving.common import read_body

    cuts = [0, *pieces, len(body)]
    messages = iter([{"type": "http.request", "body": body[a:b], "more_body": b < len(body)}
                     for a, b in zip(cuts, cuts[1:])])

    async def receive() -> dict:
        return next(messages)

    request = Request({"type": "http", "headers": [(b"content-length", str(len(body)).encode())]}, receive)
    return asyncio.run(read_body(request, 1 << 30, binary_from))


def test_a_binary_body_is_laid_out_so_that_its_tensors_are_aligned():
    """ONNX Runtime copies an input array that is not aligned for its dtype before each run; a JSON header of
    a length that is not a multiple of 4 would give it one on every request."""
    from engine.serving.v2 import parse_request

    x = np.arange(3 * 50_000, dtype=np.float32).reshape(3, 50_000)
    for pad in range(4):  # header lengths of every remainder mod 4
        head = json.dumps({"id": "a" * pad, "inputs": [{"name": "x", "shape": [3, 50_000], "datatype": "FP32",
                                                        "parameters": {"binary_data_size": x.nbytes}}]}).encode()
        body = head + x.tobytes()
        for pieces in ([], [1000, 300_000]):  # one message, or three as uvicorn hands a large body over
            _, feeds = parse_request(_read_body(body, pieces, len(head)), str(len(head)), 1 << 20)
            assert feeds["x"].flags.aligned and feeds["x"].ctypes.data % 64 == 0, (pad, pieces)
            np.testing.assert_array_equal(feeds["x"], x)
    first = parse_request(_read_body(body, [1000], len(head)), str(len(head)), 1 << 20)[1]["x"]
    second = parse_request(_read_body(body, [1000], len(head)), str(len(head)), 1 << 20)[1]["x"]
    assert not np.shares_memory(first, second), "concurrent requests never share a buffer"


def test_writes_made_in_one_step_of_the_loop_leave_together():
    from engine.serving.wire import CoalescingTransport

    class Socket:  # the network side of a transport: what was sent, in which calls
        def __init__(self) -> None:
            self.calls, self.closed = [], False

        def writelines(self, chunks: list[bytes]) -> None:
            self.calls.append(list(chunks))

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

    sock = Socket()

    async def respond() -> None:
        transport = CoalescingTransport(sock, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
        transport.write(b"body")
        assert sock.calls == [], "nothing leaves before the step ends"
        await asyncio.sleep(0)
        assert sock.calls == [[b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n", b"body"]]
        transport.write(b"last words")
        transport.close()
        assert sock.calls[-1] == [b"last words"] and sock.closed, "what was written before close is sent first"

    asyncio.run(respond())


def test_a_response_head_and_body_arrive_together(server, studio, reference):
    """The client wakes once for a response, not once for its head and again for its body."""
    import select
    import socket
    from urllib.parse import urlsplit

    body, headers = _binary(reference[0], list(studio[3].shape), "FP32", studio[3].tobytes())
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": len(body)}.items())
    request = f"POST /v2/models/hot/infer HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        for _ in range(20):
            sock.sendall(request)
            select.select([sock], [], [], 10)
            first = sock.recv(1 << 20)
            status, _, rest = first.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in status.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            assert first.startswith(b"HTTP/1.1 200") and len(rest) == length, "the body came in a later read"


def test_a_large_body_is_answered_whether_sent_with_its_length_or_chunked_and_one_past_the_limit_refused(
        server, studio, reference):
    """A body of several read buffers, sent with its length (read straight into its own buffer) or chunked (through
    the parser), gives the model's answer; a chunked one past the server's limit is refused as it comes."""
    from engine.serving.client import decode_infer
    from engine.serving.deployments import load
    from engine.serving.wire import READ_SIZE

    rows = np.tile(studio[3], (4 * READ_SIZE // studio[3].nbytes, 1, 1, 1))  # 4 images, repeated past 1 MB
    body, headers = _binary(reference[0], list(rows.shape), "FP32", rows.tobytes())
    big = start_server([load("hot")], max_body_bytes=len(body) + 10)
    try:
        for data in (body, iter([body[i:i + 300_000] for i in range(0, len(body), 300_000)])):
            response = requests.post(f"{big.url}/v2/models/hot/infer", data=data, headers=headers, timeout=60)
            assert response.status_code == 200, response.text
            outputs = next(iter(decode_infer({k.lower(): v for k, v in response.headers.items()},
                                             response.content).values()))
            np.testing.assert_allclose(outputs, np.tile(reference[1], (len(rows) // 4, 1)), rtol=1e-5, atol=1e-6)
        over = iter([body, b"\0" * 4096])  # chunked, no Content-Length: refused once past the limit
        response = requests.post(f"{big.url}/v2/models/hot/infer", data=over, headers=headers, timeout=60)
        assert response.status_code == 413
        declared = requests.post(f"{big.url}/v2/models/hot/infer", data=body + b"\0" * 4096, headers=headers,
                                 timeout=60)
        assert declared.status_code == 413, "a declared length past the limit gets no buffer and a 413"
        unknown = requests.post(f"{big.url}/v2/models/nobody/infer", data=body + b"\0" * 4096, headers=headers,
                                timeout=60)
        assert unknown.status_code == 404 and "nobody" in unknown.json()["error"], "the model is checked first"
    finally:
        big.stop()


def _raw_request(path: str, body: bytes, headers: dict) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": len(body)}.items())
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body


def _read_response(sock) -> tuple[int, dict[str, str], bytes]:  # noqa: ANN001
    """(status, headers with lower-case names, body) of one response read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(rest) < int(fields["content-length"]):
        rest += sock.recv(65536)
    assert len(rest) == int(fields["content-length"]), "nothing but this response came back"
    return int(lines[0].split(" ")[1]), fields, rest


def test_a_body_read_in_place_leaves_the_connection_ready_for_the_next_requests(server, studio, reference):
    """An inference body past ``DIRECT_MIN`` bypasses the parser: sent in pieces, then followed on the same
    connection by another request, and by a pipelined pair in one write, every answer is the model's."""
    import socket
    from urllib.parse import urlsplit

    from engine.serving.client import decode_infer
    from engine.serving.wire import DIRECT_MIN

    rows = np.tile(studio[3], (DIRECT_MIN // studio[3].nbytes + 1, 1, 1, 1))
    body, headers = _binary(reference[0], list(rows.shape), "FP32", rows.tobytes())
    assert len(body) > DIRECT_MIN
    request = _raw_request("/v2/models/hot/infer", body, headers)
    expected = np.tile(reference[1], (len(rows) // 4, 1))
    url = urlsplit(server.url)

    def answer(sock) -> np.ndarray:  # noqa: ANN001
        status, fields, payload = _read_response(sock)
        assert status == 200, payload
        return next(iter(decode_infer(fields, payload).values()))

    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        cut = request.index(b"\r\n\r\n") + 4 + 1000  # the head and 1000 bytes of body, then the rest in pieces
        for start, end in ((0, cut), (cut, cut + 7), (cut + 7, len(request) - 5), (len(request) - 5, len(request))):
            sock.sendall(request[start:end])
            time.sleep(0.05)  # each piece in its own read of the socket
        np.testing.assert_allclose(answer(sock), expected, rtol=1e-5, atol=1e-6)
        sock.sendall(request)
        np.testing.assert_allclose(answer(sock), expected, rtol=1e-5, atol=1e-6)
        sock.sendall(request + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")  # pipelined
        np.testing.assert_allclose(answer(sock), expected, rtol=1e-5, atol=1e-6)
        assert _read_response(sock)[0] == 200


def test_a_client_that_leaves_mid_body_costs_the_server_nothing(server, studio, reference):
    import socket
    from urllib.parse import urlsplit

    rows = np.tile(studio[3], (40, 1, 1, 1))
    body, headers = _binary(reference[0], list(rows.shape), "FP32", rows.tobytes())
    request = _raw_request("/v2/models/hot/infer", body, headers)
    url = urlsplit(server.url)
    for _ in range(3):
        with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
            sock.sendall(request[:len(request) // 2])
            time.sleep(0.05)
    response = requests.post(f"{server.url}/v2/models/hot/infer", data=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text


def test_a_request_that_stops_arriving_is_answered_408_and_closed_and_a_silent_connection_closed(
        server, studio, reference):  # server: plans the deployment "hot"
    """uvicorn times out only idle keep-alive connections: before, any number of half-sent requests (or
    connections that never sent a byte) stayed open for good, each holding a file descriptor. Now each is closed
    once its bytes stop coming for the read timeout; a request still being sent slowly is not."""
    import socket

    from engine.serving.deployments import load

    rows = np.tile(studio[3], (40, 1, 1, 1))  # a body past the in-place minimum, so both read paths are covered
    body, headers = _binary(reference[0], list(rows.shape), "FP32", rows.tobytes())
    request = _raw_request("/v2/models/hot/infer", body, headers)
    small = _raw_request("/v1/models/hot:predict", json.dumps({"instances": studio[3][:1].tolist()}).encode(),
                         {"Content-Type": "application/json"})
    srv = start_server([load("hot")], read_timeout_s=1.0)
    host, port = srv.options.host, srv.options.port

    def answer(sock: socket.socket) -> bytes:
        sock.settimeout(10)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
        return got  # all the server sent before it closed the connection

    try:
        cases = {"head": request[:40], "large body": request[:len(request) // 2], "small body": small[:-10]}
        socks = {name: socket.create_connection((host, port)) for name in [*cases, "silent"]}
        for name, part in cases.items():
            socks[name].sendall(part)
        slowly = _raw_request("/v1/models/hot:predict", json.dumps({"instances": studio[3][:1].tolist()}).encode(),
                              {"Content-Type": "application/json", "Connection": "close"})
        trickle = socket.create_connection((host, port))  # a slow sender: a piece every 0.4 s, 3.6 s in all
        started = time.monotonic()
        for i in range(0, len(slowly), len(slowly) // 8):
            trickle.sendall(slowly[i:i + len(slowly) // 8])
            time.sleep(0.4)
        for name in cases:
            got = answer(socks[name])
            assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), (name, got[:200])
            assert got.endswith(b'{"error":"the request stopped arriving for 1 s"}'), (name, got[-200:])
        assert answer(socks["silent"]) == b""  # nothing was asked: closed without an answer
        slow = answer(trickle)
        assert time.monotonic() - started > 3 and slow.startswith(b"HTTP/1.1 200 OK"), slow[:200]
        for sock in [*socks.values(), trickle]:
            sock.close()
        ok = requests.post(f"{srv.url}/v2/models/hot/infer", data=body, headers=headers, timeout=30)
        assert ok.status_code == 200, ok.text
    finally:
        srv.stop()


def test_a_request_past_the_in_flight_limit_gets_503_unread_and_the_server_answers_once_one_ends(
        server, studio):  # server: plans the deployment "hot"
    """Before, nothing bounded the requests a server took at once: a flood queued without end until the memory
    limit stopped the server. Past ``max_in_flight`` a request is refused before its body is read."""
    import socket

    from engine.serving.deployments import load

    body = json.dumps({"instances": studio[3][:1].tolist()}).encode()
    request = _raw_request("/v1/models/hot:predict", body, {"Content-Type": "application/json"})
    srv = start_server([load("hot")], max_in_flight=1)
    url = f"{srv.url}/v1/models/hot:predict"
    try:
        holder = socket.create_connection((srv.options.host, srv.options.port))
        holder.sendall(request[:-10])  # admitted, then waiting for the rest of its body
        def refused_one() -> tuple | None:  # answered until the holder's request is admitted, then refused
            response = requests.post(url, data=body, timeout=10)
            return None if response.status_code == 200 else (response,)  # (a 503 Response itself is false)

        refused, = wait_for(refused_one, 30, "a request refused while one is held in flight")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1", refused.text
        assert refused.json() == {"error": "this server is answering its limit of 1 requests at once; "
                                           "try again shortly"}
        holder.sendall(request[-10:])
        holder.settimeout(10)
        status, _, _ = _read_response(holder)
        holder.close()
        assert status == 200
        assert requests.post(url, data=body, timeout=10).status_code == 200  # the slot is free again
        metrics = requests.get(f"{srv.url}/metrics", timeout=10).text
        assert "trimline_requests_rejected_total 1.0" in metrics
    finally:
        srv.stop()


def test_the_protocol_reads_a_body_into_one_aligned_buffer():
    """Driven read by read as the event loop drives it: the body the app is given is the protocol's own
    buffer (no copy through the parser), its binary part on a 64-byte boundary, whatever the JSON's length."""
    import uvicorn
    from uvicorn.server import ServerState

    from engine.serving.wire import BODY_KEY, ServingHttpProtocol

    seen = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        message = await receive()
        seen.append((bytes(message["body"]), scope.get(BODY_KEY)))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    class Transport:
        def __init__(self) -> None:
            self.sent = []

        def writelines(self, chunks) -> None:  # noqa: ANN001
            self.sent.append(b"".join(chunks))

        def is_closing(self) -> bool:
            return False

        def get_extra_info(self, name: str, default=None):  # noqa: ANN001, ANN201
            return ("127.0.0.1", 1) if name in ("sockname", "peername") else default

        def pause_reading(self) -> None: ...

        def resume_reading(self) -> None: ...

    async def drive() -> None:
        config = uvicorn.Config(app, lifespan="off", log_level="warning")
        protocol = ServingHttpProtocol.for_limit(1 << 20)(config, ServerState(), {})
        assert not isinstance(protocol, asyncio.Protocol), "else uvloop never asks it for a buffer"
        protocol.connection_made(Transport())

        def feed(data: bytes, pieces: int) -> None:
            step = -(-len(data) // pieces)
            for at in range(0, len(data), step):
                part = data[at:at + step]
                while part:  # as the loop does: ask for a buffer, recv into it, say how much came
                    buffer = protocol.get_buffer(-1)
                    n = min(len(buffer), len(part))
                    buffer[:n] = part[:n]
                    protocol.buffer_updated(n)
                    part = part[n:]

        for pad in range(4):
            x = np.arange(50_000, dtype=np.float32) + pad
            body, headers = _binary("x" * (pad + 1), [50_000], "FP32", x.tobytes())
            feed(_raw_request("/v2/models/m/infer", body, headers), pieces=5)
            for _ in range(3):
                await asyncio.sleep(0)
            ascii_body, direct = seen[-1]
            assert ascii_body == b"" and direct is not None, "the body came in place, not in the message"
            assert direct.done.result() is True and direct.filled == len(body)
            direct = direct.view
            assert bytes(direct) == body
            split = int(headers[HEADER])
            raw = np.frombuffer(direct[split:], np.float32)
            assert raw.ctypes.data % 64 == 0, pad
            np.testing.assert_array_equal(raw, x)
        import engine.serving.wire as wire

        def no_room(size: int, offset: int) -> memoryview:
            raise MemoryError()
        wire.aligned_buffer, kept = no_room, wire.aligned_buffer
        try:  # no address space left for a buffer of its own: the body goes through the parser
            feed(_raw_request("/v2/models/m/infer", body, headers), pieces=5)
            for _ in range(3):
                await asyncio.sleep(0)
        finally:
            wire.aligned_buffer = kept
        assert seen[-1] == (body, None)
        small = b'{"inputs": []}'
        feed(_raw_request("/v2/models/m/infer", small, {}), pieces=1)  # under DIRECT_MIN: through the parser
        for _ in range(3):
            await asyncio.sleep(0)
        assert seen[-1] == (small, None)
        assert len(seen) == 6 and all(s.startswith(b"HTTP/1.1 200") for s in protocol.http.transport._transport.sent)

    asyncio.run(drive())


def test_the_json_of_a_body_still_arriving_is_read_early_and_its_tensors_awaited():
    """``read_body_early`` hands the V2 route a binary-tensor body once its JSON part has come, so the route
    parses it while the tensors still arrive; ``wait_for`` then waits for them, or raises when the client left."""
    from starlette.requests import ClientDisconnect, Request

    from engine.serving.common import read_body_early, wait_for
    from engine.serving.wire import BODY_KEY, DirectBody, aligned_buffer

    async def scenario(finish_with: bool, extra_headers: list) -> tuple:  # noqa: ANN001
        loop = asyncio.get_running_loop()
        direct = DirectBody(aligned_buffer(1000, 100), loop)
        direct.filled = 150  # the JSON part (100 bytes) and a little of the tensors
        done = asyncio.Event()

        async def receive() -> dict:
            await done.wait()
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "method": "POST", "path": "/v2/models/m/infer", BODY_KEY: direct,
                 "headers": [(b"content-length", b"1000"), *extra_headers]}
        request = Request(scope, receive)
        task = loop.create_task(read_body_early(request, 1 << 20, 100))
        await asyncio.sleep(0.01)
        early = task.done()
        if not early:  # waits for the whole body, through receive()
            direct.filled = 1000
            direct.finish(finish_with)
            done.set()
        body, pending = await task
        assert body.obj is direct.view.obj
        waiter = loop.create_task(wait_for(pending))
        await asyncio.sleep(0.01)
        waiting = not waiter.done()
        direct.finish(finish_with)
        try:
            await waiter
            left = False
        except ClientDisconnect:
            left = True
        return early, waiting, left

    assert asyncio.run(scenario(True, [])) == (True, True, False), "returned early; waited; the body came"
    assert asyncio.run(scenario(False, [])) == (True, True, True), "the client left before its tensors came"
    early, _, _ = asyncio.run(scenario(True, [(b"expect", b"100-continue")]))
    assert not early, "a client waiting for '100 Continue' gets it from receive(), before it sends the body"


def test_a_client_expecting_100_continue_is_told_to_send_its_body(server, studio, reference):
    import socket
    from urllib.parse import urlsplit

    rows = np.tile(studio[3], (40, 1, 1, 1))
    body, headers = _binary(reference[0], list(rows.shape), "FP32", rows.tobytes())
    request = _raw_request("/v2/models/hot/infer", body, {**headers, "Expect": "100-continue"})
    head, _, _ = request.partition(b"\r\n\r\n")
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue"), "the client is told to go on"
        sock.sendall(body)
        status, _, payload = _read_response(sock)
        assert status == 200, payload
