"""The official tritonclient and TF Serving-style HTTP against a real uvicorn server, with versions and labels."""
from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from engine import api
from tests.serving.conftest import start_server


@pytest.fixture(scope="module")
def server(studio):
    from engine.serving.deployments import load

    _, first, second, _ = studio
    api.serving.plan([first, second], name="digits", labels={"stable": 1, "canary": 2},
                     settings={"intra_threads": 1})
    srv = start_server([load("digits")])
    yield srv
    srv.stop()


@pytest.fixture()
def triton(server):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield client
    client.close()


def _input(name, value, binary=True):
    import tritonclient.http as httpclient

    tensor = httpclient.InferInput(name, list(value.shape), "FP32")
    tensor.set_data_from_numpy(value, binary_data=binary)
    return tensor


def test_tritonclient_sees_the_server_and_both_versions_ready(triton, studio):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready("digits") and triton.is_model_ready("digits", "1") and triton.is_model_ready("digits", "2")
    assert not triton.is_model_ready("digits", "3")
    meta = triton.get_model_metadata("digits")
    assert meta["versions"] == ["1", "2"] and meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"][0]["datatype"] == "FP32" and meta["inputs"][0]["shape"] == [-1, 8, 8, 1]


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_infer_matches_onnxruntime_per_version(triton, studio, reference, binary):
    import tritonclient.http as httpclient

    name, expected = reference
    images = studio[3]
    outputs = None if binary else [httpclient.InferRequestedOutput(triton.get_model_metadata("digits")["outputs"][0]
                                                                   ["name"], binary_data=False)]
    newest = triton.infer("digits", [_input(name, images, binary)], outputs=outputs)
    first = triton.infer("digits", [_input(name, images, binary)], model_version="1", outputs=outputs)
    out_name = newest.get_response()["outputs"][0]["name"]
    assert newest.get_response()["model_version"] == "2" and first.get_response()["model_version"] == "1"
    np.testing.assert_allclose(first.as_numpy(out_name), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(newest.as_numpy(out_name), 2 * expected, rtol=1e-5, atol=1e-6)


def test_tritonclient_gets_a_sentence_for_a_wrong_shape(triton, reference):
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match=r"expects shape \[-1, 8, 8, 1\] and datatype FP32; got "
                                                       r"shape \[2, 8, 8\]"):
        triton.infer("digits", [_input(reference[0], np.zeros((2, 8, 8), np.float32))])
    assert triton.is_server_ready()


def test_tf_serving_rows_and_columns_by_version_and_label(server, studio, reference):
    images, expected = studio[3], reference[1]
    rows = requests.post(f"{server.url}/v1/models/digits/labels/stable:predict",
                         json={"instances": images.tolist()}, timeout=30)
    assert rows.status_code == 200
    np.testing.assert_allclose(np.array(rows.json()["predictions"]), expected, rtol=1e-5, atol=1e-6)
    named = requests.post(f"{server.url}/v1/models/digits/versions/2:predict",
                          json={"instances": [{reference[0]: img.tolist()} for img in images]}, timeout=30)
    np.testing.assert_allclose(np.array(named.json()["predictions"]), 2 * expected, rtol=1e-5, atol=1e-6)
    columns = requests.post(f"{server.url}/v1/models/digits:predict", json={"inputs": images.tolist()}, timeout=30)
    np.testing.assert_allclose(np.array(columns.json()["outputs"]), 2 * expected, rtol=1e-5, atol=1e-6)
    canary = requests.post(f"{server.url}/v1/models/digits/labels/canary:predict",
                           json={"inputs": {reference[0]: images.tolist()}}, timeout=30)
    np.testing.assert_allclose(np.array(canary.json()["outputs"]), 2 * expected, rtol=1e-5, atol=1e-6)


def test_tf_serving_status_lists_available_versions(server):
    doc = requests.get(f"{server.url}/v1/models/digits", timeout=10).json()
    assert [(s["version"], s["state"]) for s in doc["model_version_status"]] == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
    one = requests.get(f"{server.url}/v1/models/digits/labels/canary", timeout=10).json()
    assert [s["version"] for s in one["model_version_status"]] == ["2"]


@pytest.mark.parametrize(("method", "path", "body", "status", "sentence"), [
    ("post", "/v1/models/digits:predict", b"{not json", 400, "the request body is not valid JSON"),
    ("post", "/v1/models/digits:predict", b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
     "the request body is not valid JSON (arrays or objects nested too deeply (orjson reads up to 1024 levels))"),
    ("post", "/v2/models/digits/infer", b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
     "the request body is not valid JSON (arrays or objects nested too deeply"),
    ("post", "/v1/models/digits:predict", b'{"instances": [' + b"9" * 5000 + b"]}", 400,
     "the request body is not valid JSON (a number longer than 4300 digits)"),
    ("post", "/v1/models/digits:predict", b'{"instances": [[1, 2]]}', 400, "expects shape [-1, 8, 8, 1]"),
    ("post", "/v1/models/digits:predict", b'{"instances": [[1], [1, 2]]}', 400, "not a rectangular array"),
    ("post", "/v1/models/digits:predict", b'{"signature_name": "x"}', 400, 'exactly one of "instances"'),
    ("post", "/v1/models/digits/versions/9:predict", b'{"instances": []}', 404, "version 9 of model 'digits' is not"),
    ("post", "/v1/models/digits/labels/gold:predict", b'{"instances": []}', 404, "has no label 'gold'"),
    ("post", "/v2/models/nope/infer", b"{}", 404, "no model named 'nope' is served here"),
    ("post", "/v2/models/digits/infer", b'{"inputs": []}', 400, 'the request needs "inputs"'),
    ("post", "/v2/models/digits/infer", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP99", "data": [1]}]}',
     400, "datatype 'FP99' is not supported"),
    ("post", "/v2/models/digits/infer", b'{"inputs": [{"name": "x", "shape": [1, 8, 8, 1], "datatype": "FP32", '
     b'"data": [1, 2]}]}', 400, "has 2 values; shape [1, 8, 8, 1] needs 64"),
])
def test_bad_requests_get_one_sentence_and_the_server_keeps_serving(server, method, path, body, status, sentence,
                                                                    studio):
    response = getattr(requests, method)(server.url + path, data=body, timeout=10)
    assert response.status_code == status
    assert sentence in response.json()["error"]
    ok = requests.post(f"{server.url}/v1/models/digits:predict", json={"instances": studio[3][:1].tolist()}, timeout=10)
    assert ok.status_code == 200


def test_binary_bytes_declared_but_not_sent_are_named_as_such(server):
    head = b'{"inputs": [{"name": "image", "shape": [1, 8, 8, 1], "datatype": "FP32", ' \
           b'"parameters": {"binary_data_size": 256}}]}'
    response = requests.post(f"{server.url}/v2/models/digits/infer", data=head + bytes(10), timeout=10,
                             headers={"Inference-Header-Content-Length": str(len(head))})
    assert response.status_code == 400
    assert response.json()["error"] == ("input 'image' declares 256 binary bytes, but the body holds 10 more after "
                                        "the JSON part and the inputs before it")


def test_metrics_count_requests_failures_and_process(server, studio):
    from prometheus_client.parser import text_string_to_metric_families

    requests.post(f"{server.url}/v1/models/digits/versions/1:predict", json={"instances": studio[3][:1].tolist()},
                  timeout=10)
    requests.post(f"{server.url}/v1/models/digits/versions/1:predict", data=b"[", timeout=10)
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    v1 = (("model", "digits"), ("version", "1"))
    assert samples[("trimline_requests_total", v1)] >= 2
    assert samples[("trimline_request_failures_total", tuple(sorted(v1 + (("reason", "bad_input"),))))] >= 1
    assert samples[("trimline_request_latency_seconds_count", v1)] >= 1
    assert samples[("trimline_queue_seconds_count", v1)] >= 1
    assert samples[("trimline_batch_size_count", v1)] >= 1
    assert samples[("trimline_process_rss_bytes", ())] > 10e6
    assert ("trimline_process_cpu_percent", ()) in samples
    assert ("trimline_inflight_requests", (("model", "digits"),)) in samples


def test_body_over_the_limit_is_refused_with_413(studio):
    from engine.serving.deployments import load

    with_limit = start_server([load("digits")], max_body_bytes=1000)
    try:
        big = json.dumps({"instances": studio[3].tolist()}).encode()
        response = requests.post(f"{with_limit.url}/v1/models/digits:predict", data=big, timeout=10)
        assert response.status_code == 413 and "larger than this server's limit of 1000 bytes" in response.json()["error"]
        chunked = requests.post(f"{with_limit.url}/v1/models/digits:predict", data=iter([big[:600], big[600:]]),
                                timeout=10)
        assert chunked.status_code == 413
    finally:
        with_limit.stop()


def test_a_token_is_required_when_set(studio):
    from engine.serving.deployments import load

    guarded = start_server([load("digits")], token="s3cret")
    try:
        assert requests.get(f"{guarded.url}/v2/health/ready", timeout=10).status_code == 401
        wrong = requests.get(f"{guarded.url}/v2/health/ready", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        right = requests.get(f"{guarded.url}/v2/health/ready", headers={"Authorization": "Bearer s3cret"}, timeout=10)
        assert right.status_code == 200
    finally:
        guarded.stop()
