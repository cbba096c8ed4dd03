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


def test_a_body_past_the_read_buffer_is_answered_and_one_past_the_limit_refused(server, studio, reference):
    """A body is handed to the app whole up to ``BODY_BUFFER``; a larger one arrives in parts, still checked
    against the server's limit as it comes."""
    from engine.serving.client import decode_infer
    from engine.serving.deployments import load
    from engine.serving.wire import BODY_BUFFER

    rows = np.tile(studio[3], (BODY_BUFFER // studio[3].nbytes + 2, 1, 1, 1))  # 4 images, repeated past 4 MB
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
    finally:
        big.stop()
