"""KServe V2 / Triton HTTP: health, server and model metadata, readiness, and inference.

Tensors travel as JSON (``data``, flat or nested row-major) or with Triton's binary tensor extension
(``Inference-Header-Content-Length``: a JSON header, then raw little-endian bytes per tensor), which is
what ``tritonclient.http`` sends by default.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from engine.serving.common import bad_request, infer_and_count, read_body_early, runtime_of, wait_for
from engine.serving.jsoncodec import dumps, loads
from engine.serving.tensors import check_size, datatype_of, numpy_of

router = APIRouter()
HEADER = "Inference-Header-Content-Length"


def parse_request(body: bytes | memoryview, header_length: str | None,
                  max_elements: int) -> tuple[dict[str, Any], dict]:
    """(the JSON request, feeds by input name); ValueError with a sentence when malformed."""
    split = len(body)
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise ValueError(f"the {HEADER} header must be the byte length of the JSON part of the body")
        split = int(header_length)
    try:
        request = loads(body[:split])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"the request body is not valid JSON ({exc})") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list) or not request["inputs"]:
        raise ValueError('the request needs "inputs": a list of {name, shape, datatype, data} tensors')
    feeds, offset, binary = {}, 0, memoryview(body)[split:]
    for tensor in request["inputs"]:
        if not isinstance(tensor, dict) or not {"name", "shape", "datatype"} <= set(tensor):
            raise ValueError("every input needs a name, a shape and a datatype")
        name, shape = str(tensor["name"]), tensor["shape"]
        count = check_size(name, shape, max_elements)
        dtype = numpy_of(str(tensor["datatype"]))
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if size != count * dtype.itemsize:
                raise ValueError(f"input '{name}' declares {size} binary bytes; shape {shape} of "
                                 f"{tensor['datatype']} needs {count * dtype.itemsize}")
            if offset + size > len(binary):
                raise ValueError(f"input '{name}' declares {size} binary bytes, but the body holds "
                                 f"{max(len(binary) - offset, 0)} more after the JSON part and the inputs before it")
            value = np.frombuffer(binary[offset:offset + size], dtype=dtype).reshape(shape)
            offset += size
        elif "data" in tensor:
            try:
                value = np.asarray(tensor["data"], dtype=dtype)
            except (ValueError, TypeError):
                raise ValueError(f"input '{name}' data are not all {tensor['datatype']} values") from None
            if value.size != count:
                raise ValueError(f"input '{name}' has {value.size} values; shape {shape} needs {count}")
            value = value.reshape(shape)
        else:
            raise ValueError(f"input '{name}' has neither data nor a binary_data_size parameter")
        feeds[name] = value
    return request, feeds


def encode_response(request: dict[str, Any], name: str, version: int, specs: list[dict[str, Any]],
                    outputs: list[np.ndarray]) -> Response:
    params = request.get("parameters") or {}
    binary_default = bool(params.get("binary_data_output", False))
    asked = request.get("outputs")
    by_name = dict(zip((s["name"] for s in specs), outputs))
    if asked:
        unknown = [o.get("name") for o in asked if o.get("name") not in by_name]
        if unknown:
            raise ValueError(f"the model has no output '{unknown[0]}'; its outputs: {', '.join(by_name)}")
        chosen = [(o["name"], bool((o.get("parameters") or {}).get("binary_data", binary_default))) for o in asked]
    else:
        chosen = [(n, binary_default) for n in by_name]
    tensors, blobs = [], []
    for out_name, as_binary in chosen:
        value = by_name[out_name]
        tensor = {"name": out_name, "datatype": datatype_of(value.dtype), "shape": list(value.shape)}
        if as_binary:
            raw = (value if value.dtype.byteorder != ">" else value.astype(value.dtype.newbyteorder("<"))).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            tensor["data"] = value.ravel()
        tensors.append(tensor)
    doc = {"model_name": name, "model_version": str(version), "outputs": tensors}
    if "id" in request:
        doc["id"] = request["id"]
    if not blobs:
        return Response(dumps(doc), media_type="application/json")
    # Every tensor in the binary part: nothing in the JSON needs ``dumps``' numpy handling or finiteness check.
    head = orjson.dumps(doc) if len(blobs) == len(tensors) else dumps(doc)
    return BinaryTensorResponse(b"".join([head, *blobs]), len(head))


class BinaryTensorResponse(Response):
    """A binary-tensor answer with its three headers made directly (what ``Response.__init__`` would make)."""

    media_type = "application/octet-stream"

    def __init__(self, body: bytes, json_length: int) -> None:  # noqa: D107  (no super: nothing else to set)
        self.status_code, self.background, self.body = 200, None, body
        self.raw_headers = [(b"content-length", str(len(body)).encode()),
                            (b"content-type", b"application/octet-stream"),
                            (b"inference-header-content-length", str(json_length).encode())]


def _tensor_meta(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": s["name"], "datatype": datatype_of(s["dtype"]),
             "shape": [d if isinstance(d, int) and d >= 0 else -1 for d in s["shape"]]} for s in specs]


# Inference first: routes are matched in order, and this is the one on every request's path.
@router.post("/v2/models/{name}/infer")
@router.post("/v2/models/{name}/versions/{version}/infer")
async def infer(request: Request, name: str, version: str | None = None) -> Response:
    runtime = runtime_of(request)
    runtime.lookup(name, version)  # an unknown model or version is a 404 before its body is read, whatever its size
    header_length = request.headers.get(HEADER)
    binary_from = int(header_length) if header_length is not None and header_length.isdigit() else None
    body, pending = await read_body_early(request, runtime.options.max_body_bytes, binary_from)
    try:  # with a body still arriving: its JSON is parsed and the tensors' views are made meanwhile
        parsed, feeds = parse_request(body, header_length, runtime.options.max_tensor_elements)
    except ValueError as exc:
        runtime.count_failure(runtime.lookup(name, version), "bad_input")
        return bad_request(str(exc))
    await wait_for(pending)
    served = runtime.lookup(name, version)  # after the body: no await between choosing a version and running it
    outputs = await infer_and_count(runtime, served, feeds)
    if isinstance(outputs, Response):
        return outputs
    try:
        return encode_response(parsed, name, served.version, served.outputs, outputs)
    except ValueError as exc:
        return bad_request(str(exc))


@router.get("/v2/health/live")
async def live() -> Response:
    return Response(status_code=200)


@router.get("/v2/health/ready")
async def ready(request: Request) -> Response:
    return Response(status_code=200 if request.app.state.ready else 503)


@router.get("/v2")
async def server_metadata() -> JSONResponse:
    from importlib.metadata import version

    return JSONResponse({"name": "trimline", "version": version("trimline"),
                         "extensions": ["binary_tensor_data", "model_repository", "statistics"]})


@router.get("/v2/models/{name}")
@router.get("/v2/models/{name}/versions/{version}")
async def model_metadata(request: Request, name: str, version: str | None = None) -> JSONResponse:
    runtime = runtime_of(request)
    served = runtime.lookup(name, version)
    versions = sorted(runtime.repository.models[name].versions)
    return JSONResponse({"name": name, "versions": [str(v) for v in versions], "platform": served.platform,
                         "inputs": _tensor_meta(served.inputs), "outputs": _tensor_meta(served.outputs)})


@router.get("/v2/models/{name}/ready")
@router.get("/v2/models/{name}/versions/{version}/ready")
async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
    runtime_of(request).lookup(name, version)
    return Response(status_code=200)
