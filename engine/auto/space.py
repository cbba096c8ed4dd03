"""The candidates a search may try, ordered by what the hardware and the model's op mix say pays first.

Knowledge before brute force: on CPUs with VNNI or AMX, int8 dot products take unsigned activations and
signed weights (u8×s8), so those go first; on AVX2-only CPUs uint8×uint8 QOperator per channel was the
fastest INT8 form measured here. Dynamic quantization computes each activation's scale at run time:
it pays on MatMul-heavy models and was 2–12× slower than float on conv networks, so it goes last there.
Float16 runs through casts on CPUs without native half arithmetic: it is tried for size, last for speed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
X86_FLAGS = ("sse4_2", "avx", "avx2")  # an x86 CPU (ARM CPUs with native float16 kernels have none of these)


@dataclass
class Plan:
    """A candidate before it is built: its steps from the parent, the runtime that serves it."""

    label: str
    steps: list[tuple[str, dict[str, Any]]]
    runtime: str = "onnxruntime"
    family: str = "graph"
    needs_data: bool = False
    float_nodes: list[str] = field(default_factory=list)
    skip: str = ""  # why knowledge rules it out for this goal on this CPU (listed, not built)


def has_vnni(flags: dict[str, bool]) -> bool:
    return any(flags.get(f) for f in VNNI_FLAGS)


def op_mix(onnx_file) -> dict[str, int]:  # noqa: ANN001
    """How many Conv and MatMul/Gemm nodes the float graph holds."""
    import onnx

    model = onnx.load(str(onnx_file), load_external_data=False)
    conv = sum(1 for n in model.graph.node if n.op_type == "Conv")
    matmul = sum(1 for n in model.graph.node if n.op_type in ("MatMul", "Gemm"))
    return {"conv": conv, "matmul": matmul}


# ORT's MinMax calibrator holds every calibration row's activations at once, with copies: MobileNetV2 at
# 224×224 took about 130 MB a row for 53 MB of float32 tensors. A search calibrates within half of the
# job's memory limit (past the limit the worker stops the whole job), on at most the pass's default rows.
CALIBRATION_OVERHEAD, CALIBRATION_SHARE, MIN_ROWS, MAX_ROWS = 2.5, 0.5, 16, 100


def calibration_rows(onnx_file, memory_mb: int) -> int:  # noqa: ANN001
    """How many rows static calibration of ``onnx_file`` may use within ``memory_mb``."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(onnx_file), load_external_data=False))
    per_row = 0
    for info in model.graph.value_info:
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in info.type.tensor_type.shape.dim]
        size = 4
        for d in dims:
            size *= d
        per_row += size
    fit = int(memory_mb * 2**20 * CALIBRATION_SHARE / max(per_row * CALIBRATION_OVERHEAD, 1))
    return max(MIN_ROWS, min(MAX_ROWS, fit))


def static_config(fmt: str, act: str, weight: str, per_channel: bool = True, **extra: Any) -> dict[str, Any]:
    # preprocess off: the search quantizes the graph onnx-optimize level=basic already simplified, so node
    # names stay those of that graph and the accuracy fallback can name the nodes it keeps in float
    return {"format": fmt, "activation_type": act, "weight_type": weight, "per_channel": per_channel,
            "preprocess": False, **extra}


def _static_orders(vnni: bool) -> list[tuple[str, str, str, bool]]:
    if vnni:
        return [("qoperator", "uint8", "int8", True), ("qdq", "uint8", "int8", True),
                ("qoperator", "uint8", "uint8", True), ("qdq", "int8", "int8", True),
                ("qoperator", "uint8", "int8", False)]
    return [("qoperator", "uint8", "uint8", True), ("qoperator", "uint8", "int8", True),
            ("qdq", "uint8", "int8", True), ("qdq", "int8", "int8", True), ("qoperator", "uint8", "uint8", False)]


def static_label(fmt: str, act: str, weight: str, per_channel: bool) -> str:
    short = {"uint8": "u8", "int8": "s8"}
    return (f"static INT8 {'QOperator' if fmt == 'qoperator' else 'QDQ'} {short[act]}/{short[weight]}"
            f"{' per-channel' if per_channel else ''}")


def plan(source_format: str, flags: dict[str, bool], mix: dict[str, int], has_data: bool, objective: str,
         target: str | None, rows: int = MAX_ROWS) -> list[Plan]:
    """Every candidate for a model of ``source_format``, in the order they should be tried (static INT8
    calibrated on ``rows`` rows, see ``calibration_rows``)."""
    to_onnx = [("tf2onnx", {"opset": 17})] if source_format in ("keras", "savedmodel") else []
    optimized = to_onnx + [("onnx-optimize", {"level": "basic"})]
    ort_ok = target in (None, "cpu", "onnxruntime")
    tfl_ok = target in (None, "cpu", "tflite") and source_format in ("keras", "savedmodel")
    extra = {} if rows == MAX_ROWS else {"samples": rows}  # the pass's default: the nodes a user makes by hand
    statics = [Plan(static_label(*o), optimized + [("ort-quantize-static", static_config(*o, **extra))],
                    family="int8-static", needs_data=True) for o in _static_orders(has_vnni(flags))]
    for p in statics[3:]:  # measured here: neither is ever the fastest form on x86
        p.skip = ("skipped: per-tensor scales run the same kernels as per-channel ones and only lose accuracy"
                  if "per-channel" not in p.label else
                  "skipped: ONNX Runtime's x86 int8 kernels take unsigned activations, so signed ones are shifted at "
                  "run time (s8/s8 was the slowest INT8 form measured here)")
    dynamic = Plan("dynamic INT8 (weights)", optimized + [("ort-quantize-dynamic", {"weight_type": "uint8"})],
                   family="int8-dynamic")
    fp16 = Plan("float16", optimized + [("fp16", {"auto_block": True})], family="fp16")
    graph = Plan("graph-optimized (basic)", optimized, family="graph")
    tfl = {q: Plan(f"TFLite {label} (XNNPACK)", [("tflite", {"quantization": q})], runtime="tflite",
                   family="tflite", needs_data=q == "int8")
           for q, label in (("int8", "full-integer INT8"), ("none", "float32"), ("dynamic", "dynamic-range INT8"),
                            ("float16", "float16"))}
    matmul_heavy = mix.get("matmul", 0) > mix.get("conv", 0)
    speed = objective != "size"
    pruned: list[Plan] = []
    if speed and has_data:  # without data these are all there is to try, so they stay
        if any(flags.get(f) for f in X86_FLAGS):
            fp16.skip = ("skipped: ONNX Runtime's x86 CPU kernels run a float16 model through casts to float32 "
                         "(even with AVX512-FP16), so it is slower than float32; it is tried for --objective size")
            pruned.append(fp16)
        if not matmul_heavy:
            dynamic.skip = ("skipped: dynamic INT8 computes activation scales at run time and was 2–12× slower "
                            "than float on conv networks; it is tried for MatMul-heavy models and for --objective size")
            pruned.append(dynamic)
        for q in ("dynamic", "float16"):
            tfl[q].skip = (f"skipped: TFLite {q} keeps float activations on CPUs (weights are converted back to "
                           "float or run through hybrid kernels), so it is no faster than float32; it is tried for "
                           "--objective size")
            pruned.append(tfl[q])
    order: list[Plan] = []
    if ort_ok:
        order.append(graph)
        order.append(statics[0])
    if tfl_ok:
        order.append(tfl["int8"])
    if ort_ok:
        if matmul_heavy:
            order.append(dynamic)
        order += statics[1:3]
    if tfl_ok:
        order.append(tfl["none"])
    if ort_ok:
        order += statics[3:]
        if objective == "size":
            order.insert(2, fp16)
        else:
            order.append(fp16)
        if not matmul_heavy:
            order.append(dynamic)
    if tfl_ok:
        order += [tfl["dynamic"], tfl["float16"]]
    order = [p for p in order if not p.skip] + [p for p in order if p.skip]
    return [p for p in order if has_data or not p.needs_data]


def without_data_adds(source_format: str) -> str:
    """What a data set would add to a search that had none."""
    extra = " and TFLite full-integer INT8" if source_format in ("keras", "savedmodel") else ""
    return ("A data set would add static INT8 (calibrated activations, usually the fastest on CPUs)" + extra +
            ", and accuracy checks against a budget; pass one with --dataset (or --synthetic-calibration for a "
            "latency-only search, with no accuracy claimed).")


def _tflite_quantization(steps_or_recipe: list) -> str | None:  # noqa: ANN001
    last = steps_or_recipe[-1] if steps_or_recipe else None
    if isinstance(last, dict):
        last = (last.get("pass"), last.get("config") or {})
    return last[1].get("quantization") if last and last[0] == "tflite" else None


def outrun(p: Plan, measured: list, objective: str) -> str:  # noqa: ANN001
    """Why ``p`` can no longer win, given the candidates ``measured`` so far ('' while it still can).

    TFLite float32 for speed, once TFLite full-integer INT8 met the budget: the same graph on XNNPACK's
    float kernels, which ran 4× slower than its int8 ones here (7.9 vs 2.0 ms, MobileNetV2)."""
    if objective == "size" or _tflite_quantization(p.steps) != "none":
        return ""
    int8 = next((c for c in measured if c.status == "accepted" and _tflite_quantization(c.recipe) == "int8"), None)
    if int8 is None or int8.ratio is None:
        return ""
    return (f"skipped: TFLite full-integer INT8 met the budget at {int8.ratio:.2f}× the parent's latency in "
            "screening; float32 runs the same graph on XNNPACK's float kernels, slower than its int8 ones, so it "
            "cannot be the fastest (it is tried when TFLite INT8 misses the budget, and for --objective size)")


# Nodes that carry a graph's arithmetic, float and quantized forms.
COMPUTE_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm", "QLinearConv", "QLinearMatMul", "ConvInteger",
               "MatMulInteger", "FusedConv", "FusedMatMul", "QGemm"}


def one_compute_chain(onnx_file) -> bool:  # noqa: ANN001
    """True when the graph's Conv/MatMul/Gemm nodes (quantized forms too) form one chain, each needing the
    one before it: parallel execution then has no two of them to run side by side. (The longest path
    through them visits every one exactly when no two are independent.)"""
    import onnx

    graph = onnx.load(str(onnx_file), load_external_data=False).graph
    depth: dict[str, int] = {}  # tensor -> compute nodes on the longest path that produced it
    computes, deepest = 0, 0
    for node in graph.node:  # ONNX stores nodes in topological order
        level = max((depth.get(t, 0) for t in node.input if t), default=0)
        if node.op_type in COMPUTE_OPS:
            level += 1
            computes += 1
            deepest = max(deepest, level)
        for t in node.output:
            depth[t] = level
    return computes > 1 and deepest == computes
