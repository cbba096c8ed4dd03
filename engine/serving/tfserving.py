"""TensorFlow Serving's REST API: model status and ``:predict`` with row (``instances``) or columnar
(``inputs``) bodies, addressed by name, ``/versions/N`` or ``/labels/L``, as TF Serving documents it."""
from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from engine.errors import InputError
from engine.serving.common import bad_request, infer_and_count, read_body, runtime_of
from engine.serving.jsoncodec import dumps, loads

router = APIRouter()
_PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?P<tail>/metadata|:predict|:classify|:regress)?$")


def _route(rest: str) -> tuple[str, str | None, str | None, str]:
    match = _PATH.match(rest)
    if match is None:
        raise InputError(f"'/v1/models/{rest}' is not a TensorFlow Serving path; use /v1/models/NAME"
                         "[/versions/N|/labels/L][:predict]")
    return match["name"], match["version"], match["label"], match["tail"] or ""


def _as(spec: dict[str, Any], value: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=spec["dtype"])
    except (ValueError, TypeError):
        raise ValueError(f"{what} for input '{spec['name']}' is not a rectangular array of {spec['dtype']} "
                         "values") from None


def parse_predict(doc: Any, specs: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], bool]:
    """(feeds, row_format); ValueError with a sentence when the body is not a TF Serving predict request."""
    if not isinstance(doc, dict) or ("instances" in doc) == ("inputs" in doc):
        raise ValueError('a predict request needs exactly one of "instances" (row format) or "inputs" (columnar)')
    names = [s["name"] for s in specs]
    if "instances" in doc:
        rows = doc["instances"]
        if not isinstance(rows, list) or not rows:
            raise ValueError('"instances" must be a non-empty list with one entry per example')
        if all(isinstance(r, dict) for r in rows):
            missing = [n for n in names if any(n not in r for r in rows)]
            if missing:
                raise ValueError(f"every instance needs input '{missing[0]}'; the model takes {', '.join(names)}")
            return {s["name"]: _as(s, [r[s["name"]] for r in rows], "instances") for s in specs}, True
        if len(specs) != 1:
            raise ValueError(f"the model takes {len(specs)} inputs ({', '.join(names)}); give each instance as an "
                             "object with those names")
        return {names[0]: _as(specs[0], rows, "instances")}, True
    columns = doc["inputs"]
    if isinstance(columns, dict):
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(f'"inputs" needs input \'{missing[0]}\'; the model takes {", ".join(names)}')
        return {s["name"]: _as(s, columns[s["name"]], "inputs") for s in specs}, False
    if len(specs) != 1:
        raise ValueError(f'the model takes {len(specs)} inputs; give "inputs" as an object with {", ".join(names)}')
    return {names[0]: _as(specs[0], columns, "inputs")}, False


def encode_predict(specs: list[dict[str, Any]], outputs: list[np.ndarray], row_format: bool) -> dict[str, Any]:
    """The predict answer, its tensors still numpy arrays (``jsoncodec.dumps`` writes them)."""
    names = [s["name"] for s in specs]
    if row_format:
        if len(outputs) == 1:
            return {"predictions": outputs[0]}
        return {"predictions": [{n: o[i] for n, o in zip(names, outputs)} for i in range(len(outputs[0]))]}
    if len(outputs) == 1:
        return {"outputs": outputs[0]}
    return {"outputs": {n: o for n, o in zip(names, outputs)}}


def _status(versions: list[int]) -> dict[str, Any]:
    return {"model_version_status": [{"version": str(v), "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}} for v in versions]}


@router.get("/v1/models/{rest:path}")
async def status(request: Request, rest: str) -> JSONResponse:
    runtime = runtime_of(request)
    name, version, label, tail = _route(rest)
    served = runtime.lookup(name, version, label)
    if tail == "/metadata":
        def sig(items: list[dict[str, Any]]) -> dict[str, Any]:
            return {s["name"]: {"name": s["name"], "dtype": s["dtype"],
                                "tensor_shape": {"dim": [{"size": str(d if isinstance(d, int) else -1)}
                                                         for d in s["shape"]]}} for s in items}
        return JSONResponse({"model_spec": {"name": name, "signature_name": "", "version": str(served.version)},
                             "metadata": {"signature_def": {"signature_def": {"serving_default": {
                                 "inputs": sig(served.inputs), "outputs": sig(served.outputs),
                                 "method_name": "tensorflow/serving/predict"}}}}})
    if tail:
        raise InputError(f"GET does not take '{tail}'; POST to :predict")
    if version is None and label is None:
        return JSONResponse(_status(sorted(runtime.repository.models[name].versions, reverse=True)))
    return JSONResponse(_status([served.version]))


@router.post("/v1/models/{rest:path}")
async def predict(request: Request, rest: str) -> Response:
    runtime = runtime_of(request)
    name, version, label, tail = _route(rest)
    if tail != ":predict":
        raise InputError(f"this server answers :predict; '{tail or 'no verb'}' is not supported")
    runtime.lookup(name, version, label)  # an unknown model, version or label is a 404 before its body is read
    body = await read_body(request, runtime.options.max_body_bytes)
    served = runtime.lookup(name, version, label)  # after the body, as in v2.infer
    try:
        doc = loads(body)
        feeds, row_format = parse_predict(doc, served.inputs)
        for key, value in feeds.items():
            if value.size > runtime.options.max_tensor_elements:
                raise ValueError(f"input '{key}' has {value.size} elements, more than this server's limit of "
                                 f"{runtime.options.max_tensor_elements}")
    except (ValueError, UnicodeDecodeError) as exc:
        runtime.count_failure(served, "bad_input")
        message = str(exc) if not isinstance(exc, json.JSONDecodeError) else f"the request body is not valid JSON ({exc})"
        return bad_request(message)
    outputs = await infer_and_count(runtime, served, feeds)
    if isinstance(outputs, Response):
        return outputs
    return Response(dumps(encode_predict(served.outputs, outputs, row_format)), media_type="application/json")
