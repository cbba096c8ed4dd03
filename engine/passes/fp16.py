"""Float16 conversion of an ONNX model with onnxconverter-common: half the size, faster on GPUs.

CPUs without native FP16 arithmetic run most float16 ops through casts, so on this kind of machine the
win is size, not speed: measure before choosing it for CPU serving.
"""
from __future__ import annotations

from pydantic import Field

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec

# A quantized graph's float parts are scales and (de)quantization boundaries that must stay float32;
# converting around them yields graphs onnxruntime refuses, so quantized models are refused up front.
QUANTIZED_OPS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
                 "QLinearAdd", "QLinearMul", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearAveragePool",
                 "QLinearLeakyRelu", "QLinearSigmoid", "QLinearSoftmax", "QGemm", "ConvInteger", "MatMulInteger",
                 "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention")


class Config(PassConfig):
    keep_io_types: bool = Field(True, description="Keep float32 inputs and outputs (casts at the edges), so "
                                                  "callers need not change.")
    op_block_list: list[str] = Field(default_factory=list,
                                     description="Op types to keep in float32 beyond the library's defaults "
                                                 "(e.g. Resize,TopK).")


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(source.onnx_file))
    quantized = sorted({n.op_type for n in model.graph.node} & set(QUANTIZED_OPS))
    if quantized:
        raise PassError(f"this model is already quantized ({', '.join(quantized[:3])}); fp16 converts float "
                        "models, so apply it to the float parent instead")
    ctx.progress(0.2, "converting weights and ops to float16")
    block = list(float16.DEFAULT_OP_BLOCK_LIST) + list(config.op_block_list)
    try:
        converted = float16.convert_float_to_float16(model, keep_io_types=config.keep_io_types,
                                                     op_block_list=block)
    except Exception as exc:
        raise PassError(f"onnxconverter-common could not convert this model to float16 ({exc}).") from exc
    out = ctx.scratch / "model.onnx"
    onnx.save(converted, str(out))
    _check_loads(out)
    halves = sum(1 for t in converted.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16)
    ctx.progress(1.0, "converted")
    return PassResult(Artifact(out, "onnx"), {"float16_initializers": halves,
                                              "initializers": len(converted.graph.initializer)})


def _check_loads(path) -> None:  # noqa: ANN001
    import onnxruntime as ort

    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PassError("the float16 model does not load in onnxruntime; keep the failing op type in float32 "
                        f"with op_block_list ({first})") from exc


PASS = PassSpec(
    name="fp16",
    summary="Convert an ONNX model's weights and ops to float16 (half the size).",
    accepts=("onnx",),
    produces="onnx",
    config=Config,
    run=run,
    kind="conversion",
    needs="nothing",
)
