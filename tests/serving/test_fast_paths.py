"""The hot path: binary KServe V2 bodies (chunked too) read without copies are still checked for shape,
dtype and size; a lone request runs on the event loop's thread, concurrent or slow ones on the pool's."""
from __future__ import annotations

import asyncio
import json
import threading

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
        return run(feeds)

    instance.run = recording
    loaded._free.put(instance)
    yield loaded
    asyncio.run(loaded.retire(grace_s=1))


def test_a_lone_request_runs_on_the_loop_and_others_on_the_pool(version, reference, studio):
    from engine.serving.scheduler import INLINE_MAX_S, REQUESTS

    feeds = {reference[0]: studio[3]}

    async def answer(also_in_flight: int) -> tuple[list[np.ndarray], str]:
        for _ in range(also_in_flight + 1):  # this request and the others the routes are answering
            REQUESTS.__enter__()
        try:
            return await version.infer(feeds), threading.current_thread().name
        finally:
            for _ in range(also_in_flight + 1):
                REQUESTS.__exit__()

    version._last_run_s = 0.0  # as fast as the digits model is, whatever the machine's load did to the warm-up
    outputs, loop_thread = asyncio.run(answer(0))
    assert version.threads == [loop_thread]
    np.testing.assert_allclose(outputs[0], reference[1], rtol=1e-5, atol=1e-6)
    outputs, _ = asyncio.run(answer(1))
    assert version.threads[-1].startswith("hot-v1"), "a second request in flight sends this one to the pool"
    np.testing.assert_allclose(outputs[0], reference[1], rtol=1e-5, atol=1e-6)
    version._last_run_s = INLINE_MAX_S * 2
    asyncio.run(answer(0))
    assert version.threads[-1].startswith("hot-v1"), "a model slower than the bound runs on the pool"
    samples = version.metrics.registry.get_sample_value("trimline_batch_size_count", {"model": "hot", "version": "1"})
    assert samples == 3  # every request is counted wherever it ran
