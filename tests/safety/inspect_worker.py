"""A child process that imports and inspects files named on stdin, one JSON line out per file.

It stands in for the job layer's sandboxed child: a native crash kills only this process, and the
parent sees a negative exit code instead of an answer.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from engine.errors import EngineError
from engine.formats import inspect_model, prepare_upload

for line in sys.stdin:
    src = Path(line.strip())
    with tempfile.TemporaryDirectory(dir=src.parent) as work:
        try:
            inspect_model(prepare_upload(src, Path(work)))
            answer = {"outcome": "ok"}
        except EngineError as exc:
            answer = {"outcome": "refused", "type": type(exc).__name__, "message": str(exc)}
        except BaseException as exc:  # noqa: BLE001 - the test must see any Python-level escape
            answer = {"outcome": "escaped", "type": type(exc).__name__, "message": str(exc)}
    print(json.dumps(answer), flush=True)
