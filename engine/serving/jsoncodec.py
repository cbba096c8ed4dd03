"""JSON for request and response bodies through orjson: tensors are written straight from numpy arrays
(no Python lists in between) and bodies parsed several times faster than the standard library does.

What orjson will not do the standard library still does, as before: a body orjson refuses (``NaN``
literals, integers beyond 64 bits, UTF-16) is read by ``json``, which also words the error; arrays holding
NaN or infinity are written by ``json`` too, as ``NaN``/``Infinity`` tokens.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import orjson


class NotJSON(json.JSONDecodeError):
    """A body no parser here reads, for a reason that has no one place in it (no line and column)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)

    def __str__(self) -> str:
        return self.msg


def loads(data: bytes | memoryview) -> Any:
    """The parsed body; ``json.JSONDecodeError``/``UnicodeDecodeError`` as ``json.loads`` raises them, and
    ``NotJSON`` (a JSONDecodeError) for what would crash it: arrays nested past the recursion limit, numbers
    longer than Python reads."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)
    except RecursionError:
        raise NotJSON("arrays or objects nested too deeply (orjson reads up to 1024 levels)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError:  # int("9" * 5000): past the interpreter's limit on digits
        raise NotJSON(f"a number longer than {sys.get_int_max_str_digits()} digits") from None


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _finite(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind != "f" or bool(np.isfinite(value).all())
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def dumps(doc: Any) -> bytes:
    """``doc`` (which may hold numpy arrays) as compact JSON bytes."""
    if _finite(doc):
        return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY, default=_plain)
    return json.dumps(doc, separators=(",", ":"), default=_plain).encode()
