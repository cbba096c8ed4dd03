"""Quantization-aware training with tensorflow-model-optimization: fake-quantize weights and activations
to int8 and fine-tune, so the model learns to live with 8-bit rounding.

The output is the QAT tf-keras model (``.h5``, with tfmot's quantize wrappers). It deploys through the
``tf2onnx`` pass, which turns its fake-quant ops into ONNX QuantizeLinear/DequantizeLinear pairs (a Q/DQ
model onnxruntime runs in int8), or through ``tflite`` (an int8 TFLite model). This pass converts it once
itself to check that form and reports its Q/DQ node counts (``onnx_qdq``).
"""
from __future__ import annotations

from collections import Counter

from pydantic import Field

from engine.artifact import Artifact
from engine.errors import PassError, first_line
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec


class Config(PassConfig):
    epochs: int = Field(1, ge=1, le=1000, description="Quantization-aware fine-tuning epochs.")
    batch_size: int = Field(32, ge=1, le=4096, description="Fine-tuning batch size.")
    learning_rate: float = Field(1e-4, gt=0, le=1, description="Adam learning rate for fine-tuning.")
    preserve_sparsity: bool = Field(False, description="Keep the zeros of a pruned parent while fine-tuning "
                                                       "(tfmot's prune-preserving scheme), so prune then QAT "
                                                       "stays sparse and compresses.")


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    from engine.bridge import keras3_to_tf_keras
    from engine.passes import finetune as ft

    x, y = ft.labelled_data(ctx, "qat")
    import tensorflow_model_optimization as tfmot
    import tf_keras

    ctx.progress(0.05, "loading the model as tf-keras")
    model = keras3_to_tf_keras(source.path)
    qat, floats = _quantize(model, tfmot, tf_keras, config.preserve_sparsity)
    notes = ft.unwrapped_metrics(floats, "quantize", "float")
    for warning in notes.get("warnings", []):
        ctx.log.warning(warning)
    qat.compile(optimizer=tf_keras.optimizers.Adam(config.learning_rate), loss=ft.loss_for(qat, y, tf_keras))
    tf_keras.utils.set_random_seed(0)  # the same pass, config and parent train the same way (lineage is by content)
    qat.fit(ft.as_model_input(qat, x), y, batch_size=config.batch_size, epochs=config.epochs, verbose=0,
            callbacks=[ft.progress_callback(tf_keras, ctx, config.epochs, 0.1, 0.7, "quantization-aware training")])
    out = ctx.scratch / "model.h5"
    qat.save(str(out), save_format="h5", include_optimizer=False)
    metrics = {"sparsity": _sparsity(qat)} if config.preserve_sparsity else {}
    ctx.progress(0.85, "checking the ONNX Q/DQ form")
    return PassResult(Artifact(out, "keras"), {"onnx_qdq": _qdq_counts(out, ctx), **metrics, **notes})


def _sparsity(model) -> float:  # noqa: ANN001
    """The fraction of zeros among the kernels the QAT model holds (its quantize wrappers keep them float)."""
    import numpy as np

    kernels = [np.asarray(w.numpy()) for w in model.weights
               if w.name.split("/")[-1].split(":")[0] in ("kernel", "depthwise_kernel")]
    total = sum(k.size for k in kernels)
    return float(sum(int((k == 0).sum()) for k in kernels) / max(total, 1))


def _quantize(model, tfmot, tf_keras, preserve_sparsity: bool = False):  # noqa: ANN001, ANN202
    """(the QAT model, the names of layers left float). Whole-model quantization first (it folds
    Conv → BatchNormalization pairs); when tfmot refuses a layer (a BatchNormalization after a ReLU, as in
    residual blocks), only the layers its registry supports are annotated and the rest stay float.
    ``preserve_sparsity``: tfmot's prune-preserving scheme, which masks the zeros during fine-tuning."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_module)

    keras_q = tfmot.quantization.keras
    scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme() if preserve_sparsity else None

    def apply(annotated):  # noqa: ANN001, ANN202
        return keras_q.quantize_apply(annotated, scheme) if scheme else keras_q.quantize_apply(annotated)

    try:
        return apply(keras_q.quantize_annotate_model(model)), []
    except Exception as exc:
        if "is not supported" not in str(exc):
            raise PassError(f"tfmot cannot quantize this model ({first_line(exc)}); use ort-quantize-static on "
                            "its ONNX form instead.") from exc
    registry = registry_module.Default8BitQuantizeRegistry()
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    floats = [layer.name for layer in layers if not registry.supports(layer)]

    def annotate(layer):  # noqa: ANN001, ANN202
        return layer if layer.name in floats or type(layer).__name__ == "InputLayer" \
            else keras_q.quantize_annotate_layer(layer)

    try:
        annotated = tf_keras.models.clone_model(model, clone_function=annotate)
        return apply(annotated), floats
    except Exception as exc:
        raise PassError(f"tfmot cannot quantize this model even with {len(floats)} layer(s) left float "
                        f"({first_line(exc)}); use ort-quantize-static on its ONNX form instead.") from exc


def _qdq_counts(path, ctx: PassContext) -> dict[str, int]:
    """Convert the saved QAT model with the tf2onnx pass; count its Q/DQ nodes (the file is not kept)."""
    import shutil

    from engine.passes.tf2onnx_convert import Config as OnnxConfig, run as to_onnx

    folder = ctx.scratch / "qdq-check"
    folder.mkdir(exist_ok=True)
    try:
        result = to_onnx(Artifact(path, "keras"), OnnxConfig(opset=17), PassContext(folder, log=ctx.log))
        import onnx

        ops = Counter(n.op_type for n in onnx.load(str(result.artifact.path)).graph.node)
        return {op: ops[op] for op in ("QuantizeLinear", "DequantizeLinear")}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


PASS = PassSpec(
    name="qat",
    summary="Quantization-aware training: fine-tune with int8 fake quantization; export to Q/DQ ONNX with tf2onnx.",
    accepts=("keras",),
    produces="keras",
    config=Config,
    run=run,
    kind="compression",
    needs="labels",
)
