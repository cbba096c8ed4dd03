"""A small KServe V2 client over http.client (binary tensors), used by the load test, the Deploy page's
"try it" and metrics charts. Users' own code uses tritonclient or curl; this one keeps the studio light."""
from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.serving.tensors import datatype_of, numpy_of

HEADER = "Inference-Header-Content-Length"


class Connection:
    """One keep-alive connection to a server at ``url``."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        try:
            self._conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = self._conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            raise

    def json(self, method: str, path: str) -> Any:
        status, _, body = self.request(method, path)
        if status != 200:
            raise InputError(_error(status, body, f"{method} {path}"))
        return json.loads(body)

    def close(self) -> None:
        self._conn.close()


def _error(status: int, body: bytes, what: str) -> str:
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return f"{what} answered HTTP {status}"


def encode_infer(inputs: dict[str, np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """A binary-tensor V2 request body and its headers."""
    tensors, blobs = [], []
    for name, value in inputs.items():
        raw = np.ascontiguousarray(value).tobytes()
        tensors.append({"name": name, "shape": list(value.shape), "datatype": datatype_of(value.dtype.name),
                        "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    head = json.dumps({"inputs": tensors, "parameters": {"binary_data_output": True}}).encode()
    return b"".join([head, *blobs]), {HEADER: str(len(head)), "Content-Type": "application/octet-stream"}


def decode_infer(headers: dict[str, str], body: bytes) -> dict[str, np.ndarray]:
    length = int(headers.get(HEADER.lower()) or len(body))
    doc, offset, out = json.loads(body[:length]), length, {}
    for tensor in doc["outputs"]:
        dtype = numpy_of(tensor["datatype"])
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is None:
            out[tensor["name"]] = np.asarray(tensor["data"], dtype=dtype).reshape(tensor["shape"])
        else:
            out[tensor["name"]] = np.frombuffer(body[offset:offset + size], dtype=dtype).reshape(tensor["shape"])
            offset += size
    return out


def infer_path(name: str, version: int | None) -> str:
    quoted = urllib.parse.quote(name)
    return f"/v2/models/{quoted}" + (f"/versions/{int(version)}" if version else "") + "/infer"


def sample_input(metadata: dict[str, Any], batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs that fit the model's metadata (dynamic dims: ``batch`` first, 8 elsewhere)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in metadata["inputs"]:
        dims = [batch if i == 0 and d < 0 else (d if d >= 0 else 8) for i, d in enumerate(spec["shape"])]
        dtype = numpy_of(spec["datatype"])
        feeds[spec["name"]] = (rng.random(dims).astype(dtype) if np.issubdtype(dtype, np.floating)
                               else rng.integers(0, 16, dims).astype(dtype))
    return feeds


def infer_once(url: str, name: str, array: Any, version: int | None = None, top: int = 5,
               token: str | None = None) -> dict[str, Any]:
    conn = Connection(url, token)
    try:
        meta = conn.json("GET", f"/v2/models/{urllib.parse.quote(name)}")
        spec = meta["inputs"][0]
        value = np.asarray(array, dtype=numpy_of(spec["datatype"]))
        if len(spec["shape"]) == value.ndim + 1:
            value = value[None]
        body, headers = encode_infer({spec["name"]: value})
        status, resp_headers, payload = conn.request("POST", infer_path(name, version), body, headers)
        if status != 200:
            raise InputError(_error(status, payload, "the server"))
        outputs = decode_infer(resp_headers, payload)
    finally:
        conn.close()
    first = next(iter(outputs.values()))
    head = json.loads(payload[:int(resp_headers.get(HEADER.lower(), len(payload)))])
    result: dict[str, Any] = {"outputs": {k: v.tolist() for k, v in outputs.items()},
                              "version": head.get("model_version")}
    scores = _class_scores(first)
    if scores is not None:
        order = np.argsort(scores)[::-1][:top]
        result["top"] = [{"class": int(i), "score": float(scores[i])} for i in order]
    return result


def _class_scores(first: np.ndarray) -> np.ndarray | None:
    """One input's class scores: a (1, classes) output, or one whose other axes are all 1 (SqueezeNet's
    (1, 1000, 1, 1) from its final global pooling), as evaluation reads them; None for anything else."""
    if first.ndim < 2 or first.shape[0] != 1:
        return None
    flat = first.reshape(-1)
    return flat if flat.size > 1 and max(first.shape[1:]) == flat.size else None


def scrape(url: str, token: str | None = None) -> dict[str, Any]:
    """``/metrics`` parsed: ``{"samples": [(name, labels, value), ...]}`` plus a few totals for charts."""
    from prometheus_client.parser import text_string_to_metric_families

    conn = Connection(url, token, timeout_s=5)
    try:
        status, _, body = conn.request("GET", "/metrics")
    finally:
        conn.close()
    if status != 200:
        raise InputError(_error(status, body, "/metrics"))
    samples = [(s.name, dict(s.labels), float(s.value))
               for family in text_string_to_metric_families(body.decode()) for s in family.samples]
    return {"samples": samples}
