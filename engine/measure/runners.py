"""One prepared model per runtime, as its users call it, behind the same small interface.

``open_session`` loads the model once for a (threads, opt level, mode) cell; ``Session.prepare(feeds)``
returns a zero-argument call that runs one batch end to end, outputs copied to numpy included, so every
runtime is timed doing the same work. Heavy libraries are imported here, inside the openers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from engine.artifact import Artifact
from engine.errors import InputError, MeasureError
from engine.runtime import keras_graph, set_tf_threads

RUNTIMES = ("onnxruntime", "tensorflow", "tflite", "keras-predict")
DEFAULT_RUNTIME = {"onnx": "onnxruntime", "keras": "tensorflow", "savedmodel": "tensorflow", "tflite": "tflite"}
ACCEPTS = {"onnxruntime": ("onnx",), "tensorflow": ("keras", "savedmodel"), "tflite": ("tflite",),
           "keras-predict": ("keras",)}
ORT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
              "all": "ORT_ENABLE_ALL"}


@dataclass
class Session:
    prepare: Callable[[dict[str, np.ndarray]], Callable[[], Any]]
    thread_safe: bool = True  # may several client threads call one prepared call at once
    close: Callable[[], None] = field(default=lambda: None)


def check_runtime(runtime: str, fmt: str) -> None:
    if fmt not in ACCEPTS[runtime]:
        raise InputError(f"the {runtime} runtime cannot run a {fmt} model; it runs "
                         f"{' or '.join(ACCEPTS[runtime])} models")


def ort_options(threads: int, opt_level: str = "all", mode: str = "sequential", spinning: bool = True):
    """SessionOptions for one cell; telemetry off for every process that measures."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads if mode == "parallel" else 1
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[opt_level])
    options.execution_mode = (ort.ExecutionMode.ORT_PARALLEL if mode == "parallel"
                              else ort.ExecutionMode.ORT_SEQUENTIAL)
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def preload(runtime: str) -> None:
    """Import the runtime's library up front, so its import is neither timed nor counted as model memory."""
    if runtime == "onnxruntime":
        import onnxruntime  # noqa: F401
    elif runtime == "tflite":
        from engine.litert import interpreter_class

        interpreter_class()
    else:
        import tensorflow  # noqa: F401


def open_session(artifact: Artifact, runtime: str, threads: int, opt_level: str = "all",
                 mode: str = "sequential") -> Session:
    """Load ``artifact`` for ``runtime``; raises MeasureError when the runtime cannot load it."""
    openers = {"onnxruntime": _ort, "tensorflow": _tf_function, "keras-predict": _keras_predict,
               "tflite": _tflite}
    try:
        return openers[runtime](artifact, threads, opt_level, mode)
    except (InputError, MeasureError):
        raise
    except Exception as exc:
        raise MeasureError(f"{runtime} could not load the {artifact.format} model: {exc}") from exc


def _ort(artifact: Artifact, threads: int, opt_level: str, mode: str) -> Session:
    import onnxruntime as ort

    session = ort.InferenceSession(str(artifact.onnx_file), ort_options(threads, opt_level, mode),
                                   providers=["CPUExecutionProvider"])
    return Session(lambda feeds: (lambda: session.run(None, feeds)))


def _tf_function(artifact: Artifact, threads: int, opt_level: str, mode: str) -> Session:
    import tensorflow as tf

    if not set_tf_threads(threads):
        raise MeasureError("TensorFlow's thread pools were already started in this process with other sizes")
    if artifact.format == "savedmodel":
        from engine.formats.savedmodel_scan import scan_saved_model

        scan_saved_model(artifact.path)  # the model may predate today's allow-list
        fn = tf.saved_model.load(str(artifact.path)).signatures["serving_default"]

        def prepare(feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
            kwargs = {n: tf.constant(v) for n, v in feeds.items()}
            return lambda: [t.numpy() for t in tf.nest.flatten(fn(**kwargs))]
        return Session(prepare)

    from engine.formats.keras_safe import load_keras

    model = load_keras(artifact.path, produced=True)  # stored: an upload passed the strict check at import
    fn = keras_graph(model)  # the one trace the server runs too
    dtypes = [t.dtype for t in model.inputs]

    def prepare(feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
        args = [tf.constant(v, dtype=d) for v, d in zip(feeds.values(), dtypes)]  # the signature's order
        return lambda: [t.numpy() for t in tf.nest.flatten(fn(*args))]
    return Session(prepare)


def _keras_predict(artifact: Artifact, threads: int, opt_level: str, mode: str) -> Session:
    if not set_tf_threads(threads):
        raise MeasureError("TensorFlow's thread pools were already started in this process with other sizes")
    from engine.formats.keras_safe import load_keras

    model = load_keras(artifact.path, produced=True)  # as in _tf_function: a QAT output's tfmot wrappers load

    def prepare(feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
        values = list(feeds.values())
        x = values[0] if len(values) == 1 else values
        batch = len(values[0])
        return lambda: model.predict(x, batch_size=batch, verbose=0)
    return Session(prepare, thread_safe=False)


def _tflite(artifact: Artifact, threads: int, opt_level: str, mode: str) -> Session:
    from engine.formats.tflite_read import check_tflite_operators_of
    from engine.litert import open_interpreter

    check_tflite_operators_of(artifact.path)  # the model may predate today's allow-list
    interpreter = open_interpreter(artifact.path, threads)  # LiteRT's package: no TensorFlow import
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    outs = interpreter.get_output_details()

    def prepare(feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
        by_name = {d["name"]: d for d in details}
        pairs = [(by_name.get(n, details[i]), v) for i, (n, v) in enumerate(feeds.items())]
        for d, v in pairs:
            if tuple(d["shape"]) != v.shape:
                interpreter.resize_tensor_input(d["index"], v.shape)
        interpreter.allocate_tensors()
        pairs = [(d["index"], v.astype(d["dtype"], copy=False)) for d, v in pairs]

        def call() -> list[np.ndarray]:
            for index, value in pairs:
                interpreter.set_tensor(index, value)
            interpreter.invoke()
            return [interpreter.get_tensor(d["index"]) for d in outs]
        return call
    return Session(prepare, thread_safe=False)
