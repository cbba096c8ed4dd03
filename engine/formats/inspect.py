"""One entry point that describes any stored model: IO signature, parameters, FLOPs and graph facts."""
from __future__ import annotations

from typing import Any

from engine.artifact import Artifact
from engine.errors import EngineError, FormatError, first_line


def inspect_model(artifact: Artifact, produced: bool = False) -> dict[str, Any]:
    """``{inputs, outputs, params, flops, info}`` for ``artifact``.

    ``inputs``/``outputs`` are ``[{name, shape, dtype}]`` (shape entries: int, a string for a symbolic
    dimension, None when unknown); ``flops`` is 2 × MACs for one sample, or None when shapes do not
    allow counting. Raises FormatError when the model cannot be read; Keras and SavedModel files are
    loaded, so call this inside a job's child process. ``produced``: the artifact is a pass output
    Trimline wrote (a QAT model's tfmot wrappers are then allowed); uploads are inspected without it.
    """
    try:
        if artifact.format == "onnx":
            from engine.formats.inspect_onnx import inspect_onnx

            return inspect_onnx(artifact.onnx_file)
        if artifact.format == "tflite":
            return _tflite(artifact)
        if artifact.format == "savedmodel":
            from engine.formats.inspect_savedmodel import inspect_savedmodel

            return inspect_savedmodel(artifact.path)
        if artifact.format == "keras":
            return _keras(artifact, produced)
    except EngineError:
        raise
    except Exception as exc:  # a library failure on a checked file still means "cannot read it"
        raise FormatError(f"the {artifact.format} model could not be inspected: "
                          f"{first_line(exc)}") from exc
    raise FormatError(f"unknown model format '{artifact.format}'")


def _tflite(artifact: Artifact) -> dict[str, Any]:
    from engine.formats.inspect_onnx import layout_guess
    from engine.formats.tflite_read import read_tflite

    facts = read_tflite(artifact.path)
    return {
        "inputs": facts["inputs"],
        "outputs": facts["outputs"],
        "params": facts["params"],
        "flops": facts["flops"],
        "info": {
            "op_histogram": facts["op_histogram"],
            "producer": facts["producer"],
            "framework_versions": {"tflite_schema": facts["version"]},
            "layout": {i["name"]: layout_guess(i["shape"]) for i in facts["inputs"]},
            "n_nodes": facts["n_nodes"],
            "n_subgraphs": facts["n_subgraphs"],
        },
    }


def _keras(artifact: Artifact, produced: bool) -> dict[str, Any]:
    from engine.formats.inspect_keras import inspect_keras_model
    from engine.formats.keras_safe import check_keras_file, load_keras, load_tf_keras_h5

    facts = check_keras_file(artifact.path, produced=produced)
    if facts["kind"] == "h5-keras2":
        model, framework = load_tf_keras_h5(artifact.path, checked=True, tfmot=facts["tfmot"]), "tf_keras"
    else:
        model, framework = load_keras(artifact.path), "keras"
    result = inspect_keras_model(model, facts["keras_version"], framework)
    result["info"]["file_kind"] = facts["kind"]
    return result
