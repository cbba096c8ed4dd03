"""Run any stored model on numpy inputs: one small predictor per format.

Used by the fidelity gate and by evaluation. Timing lives in ``engine.measure``, which controls
sessions and threads itself. Heavy libraries are imported inside the functions that need them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.artifact import Artifact
from engine.errors import FormatError


@dataclass
class Predictor:
    """``inputs``/``outputs``: ``[{name, shape, dtype}]`` (shape entries: int, or str/None when dynamic)."""

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    _run: Callable[[dict[str, np.ndarray]], list[np.ndarray]]
    note: str = ""  # a setting asked for that the runtime could not take, in one sentence

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(o) for o in self._run(feeds)]


def open_model(artifact: Artifact, threads: int = 0, repeated: bool = False) -> Predictor:
    """A predictor for ``artifact``; raises FormatError when the file cannot be opened.

    ``repeated``: the predictor will answer many calls (a served model), so a Keras model runs as one traced
    graph for any batch size, as the benchmark's tensorflow runtime times it, instead of eagerly layer by layer
    (the digits CNN: 0.46 ms a call against 9.5 ms). A one-off call (a fidelity check, an
    evaluation) skips the trace, which costs more than it saves there."""
    openers = {"onnx": _onnx, "keras": functools.partial(_keras, traced=repeated), "savedmodel": _savedmodel,
               "tflite": _tflite}
    try:
        return openers[artifact.format](artifact, threads)
    except FormatError:
        raise
    except Exception as exc:  # library errors become one sentence; the chain keeps the detail
        raise FormatError(f"could not open the {artifact.format} model: {exc}") from exc


_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
               "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8",
               "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def _onnx(artifact: Artifact, threads: int) -> Predictor:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(artifact.onnx_file), options, providers=["CPUExecutionProvider"])

    def describe(args: list[Any]) -> list[dict[str, Any]]:
        return [{"name": a.name, "shape": list(a.shape), "dtype": _ORT_DTYPES.get(a.type, a.type)} for a in args]

    return Predictor(describe(session.get_inputs()), describe(session.get_outputs()),
                     lambda feeds: session.run(None, feeds))


def set_tf_threads(threads: int) -> bool:
    """Size TensorFlow's intra- and inter-op pools to ``threads`` each, as the benchmark's tensorflow runtime
    times a cell; False when TF already started its pools, once per process, with other sizes."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        return True
    except RuntimeError:
        return (tf.config.threading.get_intra_op_parallelism_threads() == threads
                and tf.config.threading.get_inter_op_parallelism_threads() == threads)


def _tf_threads(threads: int) -> str:
    """Ask for ``threads`` (0: TensorFlow's default); the sentence to show when the process's pools differ."""
    if not threads or set_tf_threads(threads):
        return ""
    import tensorflow as tf

    running = tf.config.threading.get_intra_op_parallelism_threads()
    size = f"{running} thread{'s' if running != 1 else ''}" if running else "TensorFlow's default size"
    return (f"TensorFlow's thread pools are shared by every TensorFlow model in this server and had already "
            f"started with {size}; this version runs on them, not on the {threads} asked for")


def _tf_spec(name: str, shape: Any, dtype: Any) -> dict[str, Any]:
    dims = list(shape) if shape is not None else []
    dtype = getattr(dtype, "as_numpy_dtype", dtype)  # tf-keras tensors carry tf.DType
    return {"name": name, "shape": [d if d is not None else None for d in dims], "dtype": np.dtype(dtype).name}


def keras_graph(model: Any) -> Callable[..., Any]:
    """``model`` (Keras 3 or tf-keras) as the concrete function of one trace: the first (batch) dimension left
    open, the others as the model declares, the inputs positional in ``model.inputs`` order. Called directly
    it skips the argument binding a ``tf.function`` repeats on every call (the digits CNN: 0.46 ms a call
    against 0.79 ms). The served predictor and the benchmark's tensorflow runtime both run this, so a
    benchmark times what the server will run."""
    import tensorflow as tf

    def call(*xs: Any) -> Any:
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)
    signature = [tf.TensorSpec([None, *list(t.shape)[1:]], t.dtype) for t in model.inputs]
    return tf.function(call, input_signature=signature).get_concrete_function()


def _keras(artifact: Artifact, threads: int, traced: bool = False) -> Predictor:
    from engine.bridge import load_keras_any  # Keras 3, or tf-keras for Keras-2 .h5 (prune/cluster/qat output)

    note = _tf_threads(threads)  # before the model is built: TensorFlow sizes its pools once
    model = load_keras_any(artifact.path)
    names = [t.name.split(":")[0] for t in model.inputs]
    inputs = [_tf_spec(n, t.shape, t.dtype) for n, t in zip(names, model.inputs)]
    outputs = [_tf_spec(f"output_{i}", t.shape, t.dtype) for i, t in enumerate(model.outputs)]

    def eager(*xs: Any) -> Any:
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)
    call = keras_graph(model) if traced else eager

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        out = call(*[feeds[n] for n in names])
        return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]

    return Predictor(inputs, outputs, run, note)


def _savedmodel(artifact: Artifact, threads: int) -> Predictor:
    import tensorflow as tf

    from engine.formats.savedmodel_scan import scan_saved_model

    scan_saved_model(artifact.path)  # again before running: the model may predate today's allow-list
    note = _tf_threads(threads)
    loaded = tf.saved_model.load(str(artifact.path))
    fn = loaded.signatures["serving_default"]
    _, kwargs = fn.structured_input_signature
    names = sorted(kwargs)
    inputs = [_tf_spec(n, kwargs[n].shape, kwargs[n].dtype.as_numpy_dtype) for n in names]
    out_keys = sorted(fn.structured_outputs)
    outputs = [_tf_spec(k, fn.structured_outputs[k].shape, fn.structured_outputs[k].dtype.as_numpy_dtype)
               for k in out_keys]

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        result = fn(**{n: tf.constant(feeds[n]) for n in names})
        return [result[k].numpy() for k in out_keys]

    return Predictor(inputs, outputs, run, note)


def _tflite(artifact: Artifact, threads: int) -> Predictor:
    from engine.formats.tflite_read import check_tflite_operators_of
    from engine.litert import open_interpreter

    check_tflite_operators_of(artifact.path)  # again before running: the model may predate the allow-list
    interpreter = open_interpreter(artifact.path, threads or None)
    interpreter.allocate_tensors()
    ins, outs = interpreter.get_input_details(), interpreter.get_output_details()
    inputs = [{"name": d["name"], "shape": [int(s) if s > 0 else None for s in d["shape_signature"]],
               "dtype": np.dtype(d["dtype"]).name} for d in ins]
    outputs = [{"name": d["name"], "shape": [int(s) if s > 0 else None for s in d["shape_signature"]],
                "dtype": np.dtype(d["dtype"]).name} for d in outs]

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        for d in ins:
            value = feeds[d["name"]]
            if tuple(d["shape"]) != value.shape:
                interpreter.resize_tensor_input(d["index"], value.shape)
                interpreter.allocate_tensors()
            interpreter.set_tensor(d["index"], value)
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]).copy() for d in outs]

    return Predictor(inputs, outputs, run)
