"""Keras 3 ↔ tf-keras (Keras 2): load whichever a file holds, and bridge Keras 3 models to tf-keras.

tensorflow-model-optimization wraps tf-keras layers only, and Keras 3 files do not load in tf-keras as
they are. ``keras3_to_tf_keras`` translates the Keras 3 config into a Keras 2 one, builds it with
``tf_keras`` and copies the weights layer by layer. Call these inside a job's child process only.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from engine.errors import PassError, first_line

# Keys Keras 3 writes that tf-keras layer constructors refuse.
_KERAS3_ONLY = {"module", "registered_name", "build_config", "compile_config", "optional", "synchronized",
                "quantization_config", "lora_rank", "lora_alpha"}


def load_keras_any(path: Path) -> Any:
    """The model in a stored Keras file: Keras 3, or tf-keras for Keras-2 ``.h5`` files (what prune,
    cluster and qat write), through ``engine.formats.keras_safe``. Only stored artifacts reach this: an
    upload passed the strict check at import, so allowing the tfmot quantization classes of a QAT output
    here (``produced=True``) lets no upload through that import refused.
    """
    from engine.formats.keras_safe import load_keras

    return load_keras(Path(path), produced=True)


def keras3_to_tf_keras(path: Path) -> Any:
    """A tf-keras copy of the Keras 3 model in ``path`` with the same weights (outputs equal within 1e-5).

    Raises PassError with a sentence when a layer has no tf-keras counterpart.
    """
    import tf_keras

    model = load_keras_any(Path(path))
    if type(model).__module__.startswith("tf_keras"):
        return model
    return to_tf_keras(model, tf_keras)


def to_tf_keras(model: Any, tf_keras: Any = None) -> Any:
    """Translate an in-memory Keras 3 model (see ``keras3_to_tf_keras``)."""
    if tf_keras is None:
        import tf_keras
    config = translate_config(model.get_config())
    try:
        if type(model).__name__ == "Sequential":
            clone = tf_keras.Sequential.from_config(config)
        else:
            clone = tf_keras.Model.from_config(config)
        for layer in model.layers:
            weights = layer.get_weights()
            if weights:
                clone.get_layer(layer.name).set_weights(weights)
    except Exception as exc:
        raise PassError(f"the model uses a layer or option tf-keras cannot rebuild ({first_line(exc)}); "
                        "tensorflow-model-optimization needs tf-keras, so quantize its ONNX form instead.") from exc
    return clone


def translate_config(config: dict[str, Any]) -> dict[str, Any]:
    """The Keras 2 form of a Keras 3 functional/sequential ``get_config()``."""
    import tf_keras

    config = copy.deepcopy(config)
    for key in ("input_layers", "output_layers"):
        if key in config and config[key] and not isinstance(config[key][0], list):
            config[key] = [config[key]]
    for layer in config.get("layers", []):
        for key in _KERAS3_ONLY:
            layer.pop(key, None)
        build = (layer.pop("build_config", None) or {}).get("shapes_dict") or {}
        layer_cls = getattr(tf_keras.layers, layer.get("class_name", ""), None)
        layer["config"] = _layer_config(layer.get("config", {}), layer_cls, tf_keras)
        if layer.get("class_name") == "MultiHeadAttention":  # tf-keras builds it from remembered shapes
            for key in ("query_shape", "value_shape", "key_shape"):
                shape = build.get(key) or build.get("value_shape")
                layer["config"][key] = list(shape) if shape is not None else None
        if "inbound_nodes" in layer:
            layer["inbound_nodes"] = [_node(n, layer_cls) for n in layer["inbound_nodes"]]
    return config


# What tf-keras' base Layer accepts as keyword arguments besides a class's own parameters.
_LAYER_KWARGS = {"name", "trainable", "dtype", "dynamic", "input_dim", "input_shape", "batch_input_shape",
                 "batch_size", "weights", "activity_regularizer", "autocast", "implementation"}


def _accepted(cls: Any) -> set[str] | None:
    """The keyword names ``cls.__init__`` takes (with the Layer ones if it forwards ``**kwargs``)."""
    import inspect

    if cls is None:
        return None
    params = inspect.signature(cls.__init__).parameters
    names = {n for n in params if n != "self"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        names |= _LAYER_KWARGS
    return names


def _layer_config(cfg: dict[str, Any], cls: Any, tf_keras: Any) -> dict[str, Any]:
    accepted = _accepted(cls)
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key == "batch_shape":
            key = "batch_input_shape"
        if key in _KERAS3_ONLY or (accepted is not None and key not in accepted):
            continue
        if key == "dtype":
            value = _dtype_name(value)
        elif isinstance(value, dict) and "class_name" in value and "config" in value:
            value = _nested(value, tf_keras)
        out[key] = value
    return out


def _nested(value: dict[str, Any], tf_keras: Any) -> dict[str, Any]:
    """Initializers, regularizers, constraints and wrapped layers, trimmed to what tf-keras takes."""
    name = value["class_name"]
    cls = None
    for module in (tf_keras.initializers, tf_keras.regularizers, tf_keras.constraints, tf_keras.layers):
        cls = getattr(module, name, None)
        if cls is not None:
            break
    return {"class_name": name, "config": _layer_config(value.get("config") or {}, cls, tf_keras)}


def _dtype_name(value: Any) -> Any:
    if isinstance(value, dict) and value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        return value.get("config", {}).get("name", "float32")
    return value


def _node(node: Any, layer_cls: Any = None) -> list[list[Any]]:
    """Keras 3 ``{"args": [...], "kwargs": {...}}`` → Keras 2 ``[[layer, node_index, tensor_index, kwargs]]``.

    A first argument that is a list (``Add([a, b])``) becomes one entry per tensor; further positional
    tensors (``MultiHeadAttention(query, value)``) become keyword tensors named by tf-keras' ``call``.
    """
    if isinstance(node, list):  # already Keras 2
        return node
    args = list(node.get("args", []))
    kwargs = dict(node.get("kwargs", {}))
    if not args:
        return []
    first, rest = args[0], args[1:]
    if rest:
        names = _call_arg_names(layer_cls)[1:]
        for name, value in zip(names, rest):
            kwargs[name] = value
    entries = [_history(t) for t in (first if isinstance(first, (list, tuple)) else [first])]
    extra = {k: (_history(v)[:3] if _has_tensor(v) else v) for k, v in kwargs.items()}
    if extra:
        entries[-1][3] = extra
    return entries


def _history(tensor: dict[str, Any]) -> list[Any]:
    name, node_index, tensor_index = tensor["config"]["keras_history"]
    return [name, node_index, tensor_index, {}]


def _call_arg_names(layer_cls: Any) -> list[str]:
    import inspect

    if layer_cls is None:
        return []
    return [n for n in inspect.signature(layer_cls.call).parameters if n != "self"]


def _has_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"
