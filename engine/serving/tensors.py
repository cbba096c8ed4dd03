"""KServe V2 datatypes and numpy: the names both protocols use, and size limits on decoded tensors."""
from __future__ import annotations

import math

import numpy as np

V2_TO_NUMPY = {"BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
               "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
               "FP32": "float32", "FP64": "float64"}
NUMPY_TO_V2 = {v: k for k, v in V2_TO_NUMPY.items()}


_BY_DTYPE = {np.dtype(v): k for k, v in V2_TO_NUMPY.items()}


def datatype_of(dtype: str | np.dtype) -> str:
    """The V2 datatype of a numpy dtype or dtype name (a dtype is looked up directly: ``dtype.name`` is slow)."""
    if not isinstance(dtype, str):
        found = _BY_DTYPE.get(dtype)
        if found is not None:
            return found
        dtype = dtype.name
    return NUMPY_TO_V2.get(dtype, dtype.upper())


def numpy_of(datatype: str) -> np.dtype:
    try:
        return np.dtype(V2_TO_NUMPY[datatype])
    except KeyError:
        raise ValueError(f"datatype {datatype!r} is not supported; use one of {', '.join(V2_TO_NUMPY)}") from None


def check_size(name: str, shape: list[int], max_elements: int) -> int:
    """The element count of ``shape``; ValueError when it is malformed or beyond the server's limit."""
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"input '{name}' needs a shape of non-negative integers, got {shape!r}")
    count = math.prod(shape)
    if count > max_elements:
        raise ValueError(f"input '{name}' has {count} elements, more than this server's limit of {max_elements}")
    return count
