"""Synthetic inputs for timing, generated from a model's IO signature with the batch substituted."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import InputError
from engine.formats.open_sizes import dim_key, dynamic_dims, is_open as _is_dynamic  # noqa: F401  (re-exported)

_DTYPES = {"float": "float32", "float32": "float32", "float16": "float16", "double": "float64",
           "float64": "float64", "int64": "int64", "int32": "int32", "int8": "int8", "uint8": "uint8",
           "bool": "bool"}


def check_batch(inputs: list[dict[str, Any]], batch: int) -> None:
    """Refuse a batch the signature cannot take (a fixed leading dimension of another size)."""
    for spec in inputs:
        shape = list(spec.get("shape") or [])
        if not shape:
            continue
        first = shape[0]
        if not _is_dynamic(first) and int(first) != batch:
            raise InputError(
                f"the model's input '{spec['name']}' has a fixed batch size of {int(first)}; batch {batch} "
                "cannot be measured — export it with a dynamic batch (tf2onnx --set dynamic_batch=true)")


def concrete_shape(spec: dict[str, Any], batch: int, dim_values: dict[str, int] | None = None) -> list[int]:
    """The signature's shape with the batch put in dimension 0 and dynamic dimensions filled from
    ``dim_values`` (keyed as ``dim_key`` says)."""
    dims = list(spec.get("shape") or [])
    out: list[int] = []
    for i, dim in enumerate(dims):
        if i == 0:
            out.append(batch)
        elif not _is_dynamic(dim):
            out.append(int(dim))
        elif dim_values and dim_key(spec, i) in dim_values:
            out.append(int(dim_values[dim_key(spec, i)]))
        else:
            key = dim_key(spec, i)
            raise InputError(
                f"the model's input '{spec['name']}' has a dynamic dimension {dim!r} at position {i}; give its size "
                f"(on the Models page, or --dims {key}=224 on the command line; dim_values {{\"{key}\": 224}})")
    return out


def make_feeds(inputs: list[dict[str, Any]], batch: int, dim_values: dict[str, int] | None = None,
               seed: int = 0) -> dict[str, np.ndarray]:
    """One array per input: floats uniform in [0, 1), integers in [0, 10), booleans random.

    Values matter little for dense CPU kernels; a fixed seed keeps runs comparable."""
    check_batch(inputs, batch)
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in inputs:
        shape = concrete_shape(spec, batch, dim_values)
        dtype = np.dtype(_DTYPES.get(str(spec.get("dtype", "float32")), str(spec.get("dtype", "float32"))))
        if dtype.kind == "f":
            feeds[spec["name"]] = rng.random(shape, dtype=np.float32).astype(dtype)
        elif dtype.kind in "iu":
            feeds[spec["name"]] = rng.integers(0, 10, size=shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[spec["name"]] = rng.random(shape) < 0.5
        else:
            raise InputError(f"the model's input '{spec['name']}' has dtype {dtype}, which the benchmark "
                             "cannot generate; give it a float, integer or boolean input")
    return feeds
