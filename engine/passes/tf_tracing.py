"""TensorFlow models traced as one ``tf.function`` with named input specs: what tf2onnx and the TFLite
converter both start from.

``tf2onnx.convert.from_keras`` fails on Keras 3 models, so every Keras model (Keras 3 or tf-keras) is
wrapped in ``tf.function(lambda *x: model(x, training=False))``; a SavedModel is traced through its
``serving_default`` signature.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import PassError


def keras_function(tf: Any, path: Path, dynamic_batch: bool) -> tuple[Any, list[Any], list[str]]:
    from engine.bridge import load_keras_any

    model = load_keras_any(path)
    spec = []
    for i, t in enumerate(model.inputs):
        shape = list(t.shape)
        shape[0] = None if dynamic_batch else 1
        name = clean_name(getattr(t, "name", "") or f"input_{i}")
        spec.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=name))
    multi = len(spec) > 1

    @tf.function
    def fn(*xs: Any) -> Any:
        out = model(list(xs) if multi else xs[0], training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(model.outputs):
        names = [f"output_{i}" for i in range(len(model.outputs))]
    return fn, spec, names


def savedmodel_function(tf: Any, path: Path, dynamic_batch: bool) -> tuple[Any, list[Any], list[str]]:
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise PassError("the SavedModel has no 'serving_default' signature; export it with one and upload again.")
    signature = loaded.signatures["serving_default"]
    _, kwargs = signature.structured_input_signature
    names = sorted(kwargs)
    spec = []
    for n in names:
        shape = list(kwargs[n].shape)
        if shape:
            shape[0] = None if dynamic_batch else 1
        spec.append(tf.TensorSpec(shape, kwargs[n].dtype, name=n))
    out_keys = sorted(signature.structured_outputs)

    @tf.function
    def fn(*xs: Any) -> Any:
        result = signature(**dict(zip(names, xs)))
        return [result[k] for k in out_keys]

    fn.keep = loaded  # the signature's variables live as long as the function
    return fn, spec, out_keys


def clean_name(name: str) -> str:
    return name.split(":")[0].replace("/", "_") or "input"
