"""Reloads under load fail nothing; dynamic batching merges concurrent requests; the cache answers repeats."""
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import requests

from engine import api
from tests.serving.conftest import start_server, steady_load


def _metric(url: str, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_reload_under_load_fails_no_request(studio):
    from engine.serving.deployments import load

    _, first, second, images = studio
    api.serving.plan([first], name="rolling", settings={"intra_threads": 1})
    server = start_server([load("rolling")])

    def reload() -> None:
        r = requests.post(f"{server.url}/v2/repository/models/rolling/load", timeout=120)
        assert r.status_code == 200, r.text

    paths = ["/v1/models/rolling:predict", "/v1/models/rolling/labels/stable:predict"]
    try:
        with steady_load(server.url, paths * 2, {"instances": images[:1].tolist()}) as traffic:
            time.sleep(0.5)
            api.serving.promote("rolling", second, label="canary")  # version 2 loads beside version 1
            reload()
            assert requests.get(f"{server.url}/v2/models/rolling/versions/2/ready", timeout=10).status_code == 200
            api.serving.set_label("rolling", "stable", 2)  # move stable to the new version
            reload()
            api.serving.configure("rolling", settings={"instances": 2}, policy="latest:1")  # new settings, v1 retired
            reload()
            time.sleep(0.5)
        assert traffic.failures == []
        assert len(traffic.answers) > 20
        doc = requests.get(f"{server.url}/v1/models/rolling", timeout=10).json()
        assert [s["version"] for s in doc["model_version_status"]] == ["2"]
        stats = requests.get(f"{server.url}/v2/models/rolling/stats", timeout=10).json()
        assert stats["labels"] == {"stable": 2, "canary": 2} and stats["versions"][0]["settings"]["instances"] == 2
        assert _metric(server.url, "trimline_requests_total", model="rolling", version="1") > 0
        assert _metric(server.url, "trimline_requests_total", model="rolling", version="2") > 0
        assert _metric(server.url, "trimline_request_failures_total", model="rolling") == 0
    finally:
        server.stop()


def _concurrent(url: str, images: np.ndarray, path: str) -> list[np.ndarray]:
    barrier, results = threading.Barrier(len(images)), [None] * len(images)

    def one(i: int) -> None:
        barrier.wait()
        r = requests.post(url + path, json={"instances": images[i:i + 1].tolist()}, timeout=30)
        results[i] = np.array(r.json()["predictions"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_dynamic_batching_merges_concurrent_requests_and_splits_answers(studio, reference):
    from engine.serving.deployments import load

    _, first, _, _ = studio
    images = np.random.default_rng(1).random((8, 8, 8, 1)).astype(np.float32)
    api.serving.plan([first], name="batched", settings={
        "intra_threads": 1, "batching": {"enabled": True, "max_batch": 8, "max_queue_delay_ms": 200}})
    api.serving.plan([first], name="unbatched", settings={"intra_threads": 1})
    server = start_server([load("batched"), load("unbatched")])
    try:
        import onnxruntime as ort

        from engine.serving.deployments import artifact_for

        session = ort.InferenceSession(str(artifact_for(first).onnx_file), providers=["CPUExecutionProvider"])
        expected = session.run(None, {reference[0]: images})[0]
        got = _concurrent(server.url, images, "/v1/models/batched:predict")
        np.testing.assert_allclose(np.concatenate(got), expected, rtol=1e-5, atol=1e-6)
        batches = _metric(server.url, "trimline_batch_size_count", model="batched")
        rows = _metric(server.url, "trimline_batch_size_sum", model="batched")
        assert rows == 8 and batches < 8, f"8 concurrent requests ran as {batches:.0f} batches"
        _concurrent(server.url, images, "/v1/models/unbatched:predict")
        assert _metric(server.url, "trimline_batch_size_count", model="unbatched") == 8
        assert _metric(server.url, "trimline_batch_size_sum", model="unbatched") == 8
    finally:
        server.stop()


def test_cache_answers_repeats_and_counts_hits(studio):
    from engine.serving.deployments import load

    _, first, _, images = studio
    api.serving.plan([first], name="cached", settings={"cache": {"enabled": True, "max_entries": 2}})
    server = start_server([load("cached")])
    try:
        path = f"{server.url}/v1/models/cached:predict"
        answers = [requests.post(path, json={"instances": images[i:i + 1].tolist()}, timeout=10).json()
                   for i in (0, 0, 1, 2, 0)]
        assert answers[0] == answers[1] == answers[4]
        assert _metric(server.url, "trimline_cache_hits_total", model="cached") == 1
        assert _metric(server.url, "trimline_cache_misses_total", model="cached") == 4  # the last 0 was evicted
        assert _metric(server.url, "trimline_cache_entries", model="cached") == 2
        stats = requests.get(f"{server.url}/v2/models/cached/stats", timeout=10).json()["cache"]
        assert stats["hit_rate"] == pytest.approx(0.2) and stats["entries"] == 2
    finally:
        server.stop()


def test_cache_is_bounded_by_bytes_and_entries():
    from engine.serving.cache import ResponseCache, input_key

    cache = ResponseCache(max_entries=10, max_bytes=2048)
    feeds = [{"x": np.full((1, 4), i, np.float32)} for i in range(4)]
    keys = [input_key("m", 1, f) for f in feeds]
    assert len(set(keys)) == 4 and input_key("m", 2, feeds[0]) != keys[0]
    for k, f in zip(keys, feeds):
        cache.put(k, f, [np.zeros(200, np.float32)])  # 16 + 800 bytes each (inputs count): two fit in 2048
    assert len(cache) == 2 and cache.bytes == 1632
    assert cache.get(keys[0], feeds[0]) is None and cache.get(keys[3], feeds[3]) is not None
    cache.put(keys[0], feeds[0], [np.zeros(10_000, np.float32)])  # larger than the whole cache: not kept
    assert cache.get(keys[0], feeds[0]) is None and (cache.hits, cache.misses) == (1, 2)


def test_cache_answers_only_the_very_same_input_even_when_keys_collide():
    from engine.serving.cache import ResponseCache, input_key

    cache = ResponseCache(max_entries=10, max_bytes=1 << 20)
    mine, other = {"x": np.ones((1, 4), np.float32)}, {"x": np.zeros((1, 4), np.float32)}
    key = input_key("m", 1, mine)
    cache.put(key, mine, [np.full(3, 7.0, np.float32)])
    mine["x"][0, 0] = 5.0  # the caller's array changing later does not change what was stored
    assert cache.get(key, other) is None  # a forged or accidental collision is a miss, never mine
    assert cache.get(key, {"x": np.ones((1, 4), np.float64)}) is None
    hit = cache.get(key, {"x": np.ones((1, 4), np.float32)})
    assert hit is not None and hit[0].tolist() == [7.0] * 3 and not hit[0].flags.writeable


def test_a_client_that_leaves_mid_request_does_not_hurt_the_server(studio):
    from engine.serving.deployments import load

    api.serving.plan([studio[1]], name="leaving")
    server = start_server([load("leaving")])
    try:
        host, port = server.options.host, server.options.port
        for _ in range(3):
            with socket.create_connection((host, port)) as raw:
                raw.sendall(b"POST /v1/models/leaving:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                            b"\r\nContent-Length: 100000\r\n\r\n{\"instances\": [[")
        ok = requests.post(f"{server.url}/v1/models/leaving:predict", json={"instances": studio[3][:1].tolist()},
                           timeout=10)
        assert ok.status_code == 200
    finally:
        server.stop()
