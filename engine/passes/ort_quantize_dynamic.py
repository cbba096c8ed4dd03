"""ONNX Runtime dynamic quantization: int8/uint8 weights, activations quantized on the fly.

Default weight type is uint8. Both types run on onnxruntime 1.32 (ConvInteger with int8 weights lacks a CPU
kernel on some older builds), but measured on MobileNetV2 224×224 (batch 1, 2 threads, AVX-512 VNNI CPU):
FP32 4.3 ms, dynamic uint8 14 ms, dynamic int8 48 ms. Dynamic quantization suits MatMul-heavy models
(transformers, MLPs); for conv networks it is usually slower than FP32 — prefer ort-quantize-static and
measure with ``trimline benchmark``.
"""
from __future__ import annotations

from collections import Counter

from typing import Literal

from pydantic import Field

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec
from engine.passes.quant_prep import discard_staging, prepare_for_quantization


class Config(PassConfig):
    weight_type: Literal["uint8", "int8"] = Field(
        "uint8", description="Weight integer type. uint8 runs everywhere and was faster on conv networks; int8 "
                             "Conv weights need a ConvInteger kernel some older onnxruntime builds lack.")
    per_channel: bool = Field(False, description="One scale per output channel (better accuracy, slightly larger).")
    op_types: list[str] = Field(default_factory=list,
                                description="Quantize only these op types (e.g. MatMul,Gemm); empty means all "
                                            "supported ones.")
    exclude_nodes: list[str] = Field(default_factory=list, description="Node names to keep in float.")
    preprocess: bool = Field(True, description="Run ONNX Runtime's quantization pre-processing first (shape "
                                               "inference, constant folding, fusions).")


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = prepare_for_quantization(source, ctx, config.preprocess)
    out = ctx.scratch / "model.onnx"
    ctx.progress(0.1, f"quantizing weights to {config.weight_type}")
    weight_type = QuantType.QUInt8 if config.weight_type == "uint8" else QuantType.QInt8
    try:
        quantize_dynamic(src, str(out), weight_type=weight_type, per_channel=config.per_channel,
                         op_types_to_quantize=list(config.op_types) or None,
                         nodes_to_exclude=list(config.exclude_nodes) or None)
    except Exception as exc:
        raise PassError(f"onnxruntime could not quantize this model dynamically: {exc}.") from exc
    discard_staging(ctx)
    ctx.progress(0.8, "checking the quantized model loads")
    try:
        ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    except Exception as exc:
        hint = " try weight_type=uint8" if config.weight_type == "int8" else ""
        raise PassError(f"the quantized model does not run on this onnxruntime ({exc});{hint}.") from exc
    model = onnx.load(str(out), load_external_data=False)
    counts = dict(Counter(node.op_type for node in model.graph.node))
    quantized = sum(v for k, v in counts.items() if k in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear"))
    ctx.progress(1.0, "quantized")
    return PassResult(Artifact(out, "onnx"), {"op_counts": counts, "quantized_nodes": quantized})


PASS = PassSpec(
    name="ort-quantize-dynamic",
    summary="Quantize weights to 8 bits with ONNX Runtime dynamic quantization (no data needed).",
    accepts=("onnx",),
    produces="onnx",
    config=Config,
    run=run,
    kind="compression",
    needs="nothing",
)
