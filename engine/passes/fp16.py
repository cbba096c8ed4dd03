"""Float16 conversion of an ONNX model with onnxconverter-common: half the size, faster on GPUs.

CPUs without native FP16 arithmetic run most float16 ops through casts, so on this kind of machine the
win is size, not speed: measure before choosing it for CPU serving.
"""
from __future__ import annotations

import re

from pydantic import Field

from engine.artifact import Artifact
from engine.errors import PassError, first_line
from engine.passes import tolerances
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec
from engine.passes.onnx_opset import UPGRADE_BELOW, model_opset, modernize

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
    node_block_list: list[str] = Field(default_factory=list, description="Node names to keep in float32.")
    auto_block: bool = Field(False, description="When the float16 model fails to load or run, keep the node the "
                                                "error names in float32 and retry (up to 20 nodes).")

MAX_AUTO_BLOCKED = 20


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(source.onnx_file))
    quantized = sorted({n.op_type for n in model.graph.node} & set(QUANTIZED_OPS))
    if quantized:
        raise PassError(f"this model is already quantized ({', '.join(quantized[:3])}); fp16 converts float "
                        "models, so apply it to the float parent instead")
    # Legacy models (IR 3) list every weight as a graph input too: the converter halved the weight and left its
    # float32 input, and onnxruntime refused the result ("Tensor element type mismatch. 10 != 1"). Brought up to
    # date first, as graph optimization and quantization do.
    legacy = model_opset(model)
    model = modernize(model)
    ctx.progress(0.2, "converting weights and ops to float16")
    block = list(float16.DEFAULT_OP_BLOCK_LIST) + list(config.op_block_list)
    nodes = list(config.node_block_list)
    op_of = {n.name: n.op_type for n in model.graph.node}
    out = ctx.scratch / "model.onnx"
    while True:
        try:
            work = onnx.ModelProto()
            work.CopyFrom(model)  # the converter changes the model it is given; each try starts afresh
            converted = float16.convert_float_to_float16(work,
                                                         keep_io_types=config.keep_io_types,
                                                         op_block_list=block, node_block_list=nodes or None)
        except Exception as exc:
            raise PassError(f"onnxconverter-common could not convert this model to float16 ({exc}).") from exc
        onnx.save(converted, str(out))
        failure = _check_runs(out)
        if failure is None:
            break
        node, text = failure
        op = op_of.get(node or "", "an op")
        if not (config.auto_block and node in op_of and node not in nodes and len(nodes) < MAX_AUTO_BLOCKED):
            where = f"at node '{node}' ({op})" if node else ""
            hint = (f"keep it in float32 with node_block_list={node} or op_block_list={op}, or set auto_block=true"
                    if node in op_of else "keep the failing op type in float32 with op_block_list")
            raise PassError(f"the float16 model fails in onnxruntime {where}: {text}; {hint}".replace("  ", " "))
        ctx.log.warning("float16 model fails at node %s (%s); keeping it in float32", node, op)
        nodes.append(node)
    halves = sum(1 for t in converted.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16)
    ctx.progress(1.0, "converted")
    return PassResult(Artifact(out, "onnx"), {"float16_initializers": halves,
                                              "initializers": len(converted.graph.initializer),
                                              "kept_float32_nodes": [{"node": n, "op": op_of.get(n)} for n in nodes],
                                              **({"upgraded_from_opset": legacy} if legacy < UPGRADE_BELOW else {})})


# onnxruntime names the node in its load errors ("... of node (name) ...", "node (name)") and its run errors
# ("... running Add node. Name:'name' Status Message: ...")
_NODE_PATTERNS = (re.compile(r"Name:'([^']+)'"), re.compile(r"\bnode \(([^)]+)\)"), re.compile(r"node with name '([^']+)'"))


def node_in_error(text: str) -> str | None:
    """The node an onnxruntime error message names, if any."""
    for pattern in _NODE_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def _check_runs(path) -> tuple[str | None, str] | None:  # noqa: ANN001
    """None when the model loads and runs once on generated inputs, else (the node named, the error's gist)."""
    import onnxruntime as ort

    from engine.measure.inputs import make_feeds

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        signature = [{"name": i.name, "shape": list(i.shape), "dtype": _NP_TYPES.get(i.type, "float32")}
                     for i in session.get_inputs()]
        first = (signature[0]["shape"] or [1])[0] if signature else 1
        session.run(None, make_feeds(signature, first if isinstance(first, int) and first > 0 else 1, {}))
    except Exception as exc:
        return node_in_error(str(exc)), first_line(exc, limit=10_000).split("failed:")[-1].strip()
    return None


_NP_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
             "tensor(int32)": "int32", "tensor(bool)": "bool", "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


PASS = PassSpec(
    name="fp16",
    summary="Convert an ONNX model's weights and ops to float16 (half the size).",
    accepts=("onnx",),
    produces="onnx",
    config=Config,
    run=run,
    kind="conversion",
    needs="nothing",
    tolerance=tolerances.FLOAT16,
)
