"""The TFLite interpreter, from LiteRT's own package (``ai-edge-litert``) when it is installed.

It is the interpreter ``tf.lite.Interpreter`` wraps (deprecated there in its favour), with XNNPACK as its
default CPU delegate, but it imports in milliseconds where TensorFlow takes seconds: a process that only
runs or times TFLite models (a benchmark cell, the search's TFLite timing process) needs nothing else
from TensorFlow. Without the package, TensorFlow's copy is used.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def interpreter_class() -> tuple[Any, str]:
    """(the Interpreter class, the package it came from: ``ai-edge-litert`` or ``tensorflow``)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow"


def open_interpreter(path: str | Path, threads: int | None = None) -> Any:
    """An interpreter for the flatbuffer at ``path`` on ``threads`` threads (None: the interpreter's
    default), tensors not yet allocated."""
    interpreter, _ = interpreter_class()
    with warnings.catch_warnings():  # tf.lite's deprecation notice points at this very package
        warnings.simplefilter("ignore")
        return interpreter(model_path=str(path), num_threads=threads)
