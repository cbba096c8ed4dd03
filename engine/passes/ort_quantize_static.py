"""ONNX Runtime static quantization: weights and activations to 8 bits, scales calibrated on data.

Defaults come from measurement (MobileNetV2 224×224, batch 1, 2 threads, onnxruntime 1.32). On an AVX-512
VNNI CPU: FP32 4.3 ms; QOperator uint8 activations × int8 weights 2.1 ms; uint8 × uint8 3.9 ms; QDQ int8 ×
int8 4.1 ms. VNNI multiplies u8×s8, hence ``weight_type=auto`` picks int8 weights where the CPU has VNNI or
AMX and uint8 elsewhere: on AVX2-only CPUs uint8 × uint8 QOperator per channel was the fastest (DESIGN.md).
QDQ is the portable form for other execution providers. The model is pre-processed first
(``quant_pre_process``: shape inference and fusions).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from engine.artifact import Artifact
from engine.errors import InputError, PassError, first_line
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec
from engine.passes.quant_prep import discard_staging, prepare_for_quantization


class Config(PassConfig):
    format: Literal["qoperator", "qdq"] = Field(
        "qoperator", description="qoperator: fused QLinearConv/QLinearMatMul ops (fastest on AVX2 CPUs); qdq: "
                                 "QuantizeLinear/DequantizeLinear pairs around float ops (portable to other EPs).")
    calibration: Literal["minmax", "entropy", "percentile"] = Field(
        "minmax", description="How activation ranges are chosen from the calibration data.")
    per_channel: bool = Field(True, description="One weight scale per output channel (better accuracy).")
    samples: int = Field(100, ge=1, le=10_000, description="Number of data set rows used for calibration.")
    exclude_ops: list[str] = Field(default_factory=list, description="Op types to keep in float (e.g. Softmax,Add).")
    exclude_nodes: list[str] = Field(default_factory=list, description="Node names to keep in float (the ones "
                                                                       "that cost accuracy).")
    activation_type: Literal["uint8", "int8"] = Field("uint8", description="Integer type of activations.")
    weight_type: Literal["auto", "uint8", "int8"] = Field(
        "auto", description="Integer type of weights; auto: int8 on CPUs with VNNI/AMX (u8×s8 dot products), "
                            "uint8 elsewhere.")
    preprocess: bool = Field(True, description="Run onnxruntime's quant_pre_process (shape inference, "
                                               "fusions) before quantizing.")

    @model_validator(mode="after")
    def _supported_pair(self) -> "Config":
        if self.activation_type == "int8" and self.weight_type == "uint8":  # auto resolves to int8 then
            raise ValueError("int8 activations with uint8 weights are not supported by onnxruntime; "
                             "use uint8/uint8, uint8/int8 or int8/int8")
        return self


def _calibration_cache(ctx: PassContext, src: str, model: Any, config: Config, ops: list[str]) -> Any:
    """Where onnxruntime keeps the activation ranges calibration found (None: the context keeps none), named
    by everything they depend on: the graph's bytes, the rows, the method, the op types calibrated. Types,
    format, per-channel scales and excluded nodes only change how the ranges are used, so a search that
    quantizes one graph in several forms calibrates it once and each form gets the ranges it would compute."""
    import hashlib

    if ctx.calibration_cache is None or any(t.data_location == 1 for t in model.graph.initializer):
        return None  # weights in external files are not in the graph's bytes: no name covers them
    digest = hashlib.sha256(Path(src).read_bytes())
    digest.update(f"{config.calibration}|{config.samples}|{','.join(ops)}".encode())
    x = ctx.dataset.x if isinstance(ctx.dataset.x, dict) else {"": ctx.dataset.x}
    for name in sorted(x):
        rows = np.ascontiguousarray(np.asarray(x[name])[:config.samples])
        digest.update(f"{name}|{rows.dtype}|{rows.shape}".encode())
        digest.update(rows.tobytes())
    return Path(ctx.calibration_cache) / f"{digest.hexdigest()}.json"


class _Reader:
    """Feeds calibration batches from the data set, in the model's batch size when it is fixed."""

    def __init__(self, inputs: list[Any], x: np.ndarray | dict[str, np.ndarray], samples: int) -> None:
        from engine.formats.dataset_match import match_inputs

        arrays = match_inputs([{"name": i.name} for i in inputs], x if isinstance(x, dict) else {inputs[0].name: x})
        first = inputs[0].shape[0] if inputs[0].shape else None
        fixed = first if isinstance(first, int) and first > 0 else None  # a named (dynamic) batch is not fixed
        step = fixed or 16
        dtypes = [_NP.get(i.type, np.float32) for i in inputs]
        total = min(samples, len(arrays[0]))
        self.rows = total - total % step if fixed else total  # a fixed batch takes whole batches only
        self._batches = iter([
            {i.name: np.asarray(a[s:s + step]).astype(dt) for i, a, dt in zip(inputs, arrays, dtypes)}
            for s in range(0, total - step + 1 if fixed else total, step)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


_NP = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
       "tensor(float16)": np.float16}


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if ctx.dataset is None:
        raise InputError("static quantization needs a data set for calibration; pass one with --dataset.")
    refuse_runtime_fused(source)
    src = prepare_for_quantization(source, ctx, config.preprocess)
    inputs = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).get_inputs()
    reader = _Reader(inputs, ctx.dataset.x, config.samples)
    out = ctx.scratch / "model.onnx"
    qtype = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    weight_type = resolve_weight_type(config, ctx.cpu_flags)
    model = onnx.load(src, load_external_data=False)
    ops = sorted({n.op_type for n in model.graph.node} - set(config.exclude_ops))
    cache = _calibration_cache(ctx, src, model, config, ops)
    cached = cache is not None and cache.is_file()
    ctx.progress(0.2, f"calibrating on {reader.rows} samples ({config.calibration})" + (
        ": the ranges this graph had on these rows, kept from an earlier form" if cached else ""))
    try:
        quantize_static(src, str(out), reader, calibration_cache_path=cache,
                        quant_format=QuantFormat.QOperator if config.format == "qoperator" else QuantFormat.QDQ,
                        op_types_to_quantize=ops, per_channel=config.per_channel,
                        nodes_to_exclude=list(config.exclude_nodes),
                        activation_type=qtype[config.activation_type], weight_type=qtype[weight_type],
                        calibrate_method={"minmax": CalibrationMethod.MinMax,
                                          "entropy": CalibrationMethod.Entropy,
                                          "percentile": CalibrationMethod.Percentile}[config.calibration])
    except Exception as exc:
        raise PassError(f"onnxruntime could not quantize this model statically; check the data set matches "
                        f"the model's inputs ({first_line(exc)}).") from exc
    discard_staging(ctx)
    ctx.progress(0.9, "checking the quantized model loads")
    try:
        ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise PassError(f"the quantized model does not run on this onnxruntime ({exc}); "
                        "try format=qdq or other types.") from exc
    quantized = onnx.load(str(out), load_external_data=False)
    counts = dict(Counter(node.op_type for node in quantized.graph.node))
    eligible, done = quantized_share(model, quantized, config.exclude_ops)
    metrics = {"op_counts": counts, "weight_type": weight_type, "activation_type": config.activation_type,
               "eligible_ops": eligible, "quantized_ops": done}
    if eligible and done * 2 < eligible:
        metrics["warnings"] = [f"only {done} of {eligible} Conv/MatMul/Gemm ops were quantized; the rest stayed "
                               "float, so expect little speed-up (check exclude_ops and the model's op types)"]
        ctx.log.warning(metrics["warnings"][0])
    return PassResult(Artifact(out, "onnx"), metrics)


_ELIGIBLE = ("Conv", "MatMul", "Gemm")
_QUANTIZED = ("QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger")


def quantized_share(before, after, excluded: list[str]) -> tuple[int, int]:  # noqa: ANN001
    """(eligible compute ops in the float graph, how many of them run in integers after quantization):
    QOperator ops count directly; in QDQ form a float op counts when its first input is dequantized."""
    eligible = sum(1 for n in before.graph.node if n.op_type in _ELIGIBLE and n.op_type not in excluded)
    producers = {o: n.op_type for n in after.graph.node for o in n.output}
    done = sum(1 for n in after.graph.node if n.op_type in _QUANTIZED or
               (n.op_type in _ELIGIBLE and n.input and producers.get(n.input[0]) == "DequantizeLinear"))
    return eligible, min(done, eligible)


RUNTIME_FUSED_DOMAINS = ("com.microsoft", "com.microsoft.nchwc")


def refuse_runtime_fused(source: Artifact) -> None:
    """Refuse a graph holding onnxruntime's own fused ops (what ``onnx-optimize level=all`` writes): the
    quantizer cannot quantize them and either crashes or leaves the model float without a word."""
    import onnx

    model = onnx.load(str(source.onnx_file), load_external_data=False)
    fused = Counter(n.op_type for n in model.graph.node if n.domain in RUNTIME_FUSED_DOMAINS
                    and not n.op_type.startswith("Q") and "Integer" not in n.op_type)  # quantized ops live there too
    if fused:
        listed = ", ".join(f"{op} ×{k}" for op, k in fused.most_common(3))
        raise InputError(f"this graph holds onnxruntime-only fused ops ({listed}), as onnx-optimize level=extended "
                         "or all writes them, and onnxruntime cannot quantize those; quantize its float parent "
                         "(or an onnx-optimize level=basic copy) and apply level all as a session setting when "
                         "serving (benchmark --opt-level all)")


def resolve_weight_type(config: Config, flags: dict[str, bool]) -> str:
    """``auto``: int8 where the CPU (its ISA ``flags``) has VNNI/AMX integer dot products, or activations
    are int8; else uint8."""
    if config.weight_type != "auto":
        return config.weight_type
    if config.activation_type == "int8":
        return "int8"
    return "int8" if any(flags.get(f) for f in ("avx512_vnni", "avx_vnni", "amx_int8")) else "uint8"


PASS = PassSpec(
    name="ort-quantize-static",
    summary="Quantize weights and activations to 8 bits with ONNX Runtime, calibrated on a data set.",
    accepts=("onnx",),
    produces="onnx",
    config=Config,
    run=run,
    kind="compression",
    needs="data",
)
