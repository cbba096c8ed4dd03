"""One serving instance per runtime: ONNX Runtime for ONNX, the TFLite interpreter, TensorFlow otherwise.

An instance is used by one request (or one batch) at a time; the pool in ``scheduler`` hands them out.
Execution providers are tried in the order asked; one that is missing or fails to load falls back to
CPU, and ``note`` says why (shown in the model's status and the server log).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.artifact import Artifact
from engine.errors import FormatError
from engine.serving.settings import ModelSettings

log = logging.getLogger("trimline.serve")


@dataclass
class Instance:
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    run: Callable[[dict[str, np.ndarray]], list[np.ndarray]]
    provider: str = "CPUExecutionProvider"
    note: str = ""
    platform: str = "onnxruntime_onnx"


def open_instance(artifact: Artifact, settings: ModelSettings) -> Instance:
    """Load one instance of ``artifact``; raises FormatError with a sentence when it cannot be loaded."""
    try:
        if artifact.format == "onnx":
            return _onnx(artifact, settings)
        from engine.runtime import open_model

        predictor = open_model(artifact, threads=settings.intra_threads, repeated=True)
        platform = {"tflite": "tflite", "keras": "tensorflow_keras", "savedmodel": "tensorflow_savedmodel"}
        return Instance(predictor.inputs, predictor.outputs, predictor.run, provider="CPU",
                        platform=platform[artifact.format], note=predictor.note)
    except FormatError:
        raise
    except Exception as exc:
        raise FormatError(f"could not load the {artifact.format} model for serving: {exc}") from exc


def session_options(settings: ModelSettings):  # noqa: ANN201  (onnxruntime.SessionOptions)
    """ONNX Runtime's options for one serving instance."""
    from engine.measure.runners import ort_options

    options = ort_options(settings.intra_threads, settings.opt_level, settings.execution_mode, settings.spin_wait)
    if settings.spin_wait and settings.spin_stop:  # the response and the next request need the cores then
        options.add_session_config_entry("session.force_spinning_stop", "1")
    options.inter_op_num_threads = settings.inter_threads
    options.enable_cpu_mem_arena = settings.arena
    options.enable_mem_pattern = settings.mem_pattern
    return options


def _onnx(artifact: Artifact, settings: ModelSettings) -> Instance:
    import onnxruntime as ort

    from engine.runtime import _ORT_DTYPES

    options = session_options(settings)
    available = set(ort.get_available_providers())
    wanted = [p for p in settings.providers if p != "CPUExecutionProvider"]
    notes = [f"{p} is not available in this onnxruntime build; serving on CPU" for p in wanted if p not in available]
    providers = [p for p in wanted if p in available] + ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(str(artifact.onnx_file), options, providers=providers)
    except Exception as exc:
        if providers == ["CPUExecutionProvider"]:
            raise
        notes.append(f"{providers[0]} failed to load the model ({str(exc).splitlines()[0][:160]}); serving on CPU")
        session = ort.InferenceSession(str(artifact.onnx_file), options, providers=["CPUExecutionProvider"])
    for note in notes:
        log.warning(note)

    def describe(args: list[Any]) -> list[dict[str, Any]]:
        return [{"name": a.name, "shape": list(a.shape), "dtype": _ORT_DTYPES.get(a.type, a.type)} for a in args]

    names = [o.name for o in session.get_outputs()]
    return Instance(describe(session.get_inputs()), describe(session.get_outputs()),
                    lambda feeds: session.run(names, feeds), provider=session.get_providers()[0],
                    note="; ".join(notes))


def has_batch_dim(specs: list[dict[str, Any]]) -> bool:
    """Whether every input's first dimension is dynamic, so requests can be stacked along it."""
    return bool(specs) and all(s["shape"] and not isinstance(s["shape"][0], int) for s in specs)


@functools.lru_cache(maxsize=64)
def _dtype(name: str) -> np.dtype | str:
    """numpy's dtype for a spec's dtype name (``dtype.name`` is slow on the request path), else the name."""
    try:
        return np.dtype(name)
    except TypeError:
        return name


def check_feeds(specs: list[dict[str, Any]], feeds: dict[str, np.ndarray]) -> None:
    """Raise ValueError with one sentence naming the expected shape and dtype when a feed does not fit."""
    from engine.serving.tensors import datatype_of

    missing = [s["name"] for s in specs if s["name"] not in feeds]
    if missing or len(feeds) != len(specs):
        extra = sorted(set(feeds) - {s["name"] for s in specs})
        want = ", ".join(f"'{s['name']}'" for s in specs)
        raise ValueError(f"the model takes input(s) {want}; " +
                         (f"'{missing[0]}' is missing" if missing else f"'{extra[0]}' is not one of them"))
    for spec in specs:
        value, dims = feeds[spec["name"]], spec["shape"]
        fits = value.ndim == len(dims) and all(not isinstance(s, int) or s < 0 or s == d
                                               for s, d in zip(dims, value.shape))
        if fits and value.dtype == _dtype(spec["dtype"]):
            continue
        shape = ["-1" if not isinstance(d, int) or d < 0 else str(d) for d in dims]
        expected = f"shape [{', '.join(shape)}] and datatype {datatype_of(spec['dtype'])}"
        got = f"got shape {list(value.shape)} and datatype {datatype_of(value.dtype.name)}"
        raise ValueError(f"input '{spec['name']}' expects {expected}; {got}")
