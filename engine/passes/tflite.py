"""TF → TFLite with the TFLite converter, optionally quantized (dynamic range, float16, full int8).

Keras models go through a concrete ``tf.function`` (as tf2onnx does: Keras 3 and tf-keras alike).
``int8`` quantizes weights and activations with a representative data set and keeps float32 inputs and
outputs (a Quantize/Dequantize pair at the edges), so callers need not change.
"""
from __future__ import annotations

from collections import Counter

from typing import Any, Literal

import numpy as np
from pydantic import Field

from engine.artifact import Artifact
from engine.errors import InputError, PassError, first_line
from engine.passes import tolerances
from engine.passes.base import Needs, PassConfig, PassContext, PassResult, PassSpec


class Config(PassConfig):
    quantization: Literal["none", "dynamic", "float16", "int8"] = Field(
        "none", description="none: float32; dynamic: int8 weights; float16: half-size weights; int8: weights "
                            "and activations, calibrated on the data set (needs --dataset).")
    samples: int = Field(100, ge=1, le=10_000, description="Data set rows used to calibrate int8.")

    def required_data(self) -> Needs:
        return "data" if self.quantization == "int8" else "nothing"

    def must_match_parent(self) -> bool:
        """Without quantization (or to float16) the converter must reproduce the model; quantized
        outputs store their fidelity numbers instead."""
        return self.quantization in ("none", "float16")

    def fidelity_tolerance(self) -> float | None:
        return tolerances.FLOAT16 if self.quantization == "float16" else None


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import tensorflow as tf

    if config.quantization == "int8" and ctx.dataset is None:
        raise InputError("int8 TFLite quantization needs a data set for calibration; pass one with --dataset.")
    ctx.progress(0.05, "loading the model")
    if source.format == "savedmodel":
        converter = tf.lite.TFLiteConverter.from_saved_model(str(source.path))
        names = None
    else:
        from engine.passes.tf_tracing import keras_function

        fn, spec, _ = keras_function(tf, source.path, dynamic_batch=True)
        concrete = fn.get_concrete_function(*spec)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        names = [s.name for s in spec]
    if config.quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if config.quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if config.quantization == "int8":
        converter.representative_dataset = _representative(ctx.dataset.x, config.samples, names)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    ctx.progress(0.3, f"converting to TFLite ({config.quantization})")
    try:
        flatbuffer = converter.convert()
    except Exception as exc:
        raise PassError(f"the TFLite converter could not convert this model with quantization="
                        f"{config.quantization} ({first_line(exc)}).") from exc
    out = ctx.scratch / "model.tflite"
    out.write_bytes(flatbuffer)
    ctx.progress(1.0, "converted")
    return PassResult(Artifact(out, "tflite"), {"tensor_types": _tensor_types(out)})


def _representative(x: np.ndarray | dict[str, np.ndarray], samples: int, names: list[str] | None) -> Any:
    def gen() -> Any:
        if isinstance(x, dict):
            keys = names or list(x)
            arrays = [x[k] if k in x else list(x.values())[i] for i, k in enumerate(keys)]
        else:
            arrays = [x]
        for i in range(min(samples, len(arrays[0]))):
            yield [np.asarray(a[i:i + 1]).astype(np.float32) if np.asarray(a).dtype.kind == "f"
                   else np.asarray(a[i:i + 1]) for a in arrays]
    return gen


def _tensor_types(path: Any) -> dict[str, int]:
    """How many tensors of each dtype the flatbuffer holds (int8 after full quantization)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    return dict(Counter(np.dtype(d["dtype"]).name for d in interpreter.get_tensor_details()))


PASS = PassSpec(
    name="tflite",
    summary="Convert a Keras model or SavedModel to TFLite, optionally quantized (dynamic, float16, int8).",
    accepts=("keras", "savedmodel"),
    produces="tflite",
    config=Config,
    run=run,
    kind="conversion",
    needs="nothing",
    data_optional=True,
)
