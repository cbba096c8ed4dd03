"""Graph optimization of an ONNX model: opset upgrade, onnxoptimizer passes, ONNX Runtime offline fusion.

Order: models below opset 13 are first upgraded to ``target_opset`` with ``onnx.version_converter``
(quantization and newer fusions need 13+); then the named onnxoptimizer passes run; then ONNX Runtime
optimizes the graph at ``level`` and writes it (``SessionOptions.optimized_model_filepath``).
``basic`` keeps standard ONNX ops (constant folding, redundant-node removal) so any runtime can load
the result; ``extended`` adds onnxruntime-only fused ops; ``all`` adds layouts tied to this CPU.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec
from engine.passes.onnx_opset import UPGRADE_BELOW, model_opset, modernize

class Config(PassConfig):
    level: Literal["basic", "extended", "all"] = Field(
        "basic", description="ONNX Runtime optimization level: basic keeps standard ONNX ops (portable); "
                             "extended adds onnxruntime-only fusions; all also uses layouts tied to this CPU.")
    passes: list[str] = Field(default_factory=list,
                              description="onnxoptimizer passes to run first, e.g. eliminate_identity,"
                                          "fuse_bn_into_conv,fuse_matmul_add_bias_into_gemm.")
    target_opset: int = Field(17, ge=13, le=21,
                              description=f"Opset that models below opset {UPGRADE_BELOW} are upgraded to.")

    @field_validator("passes")
    @classmethod
    def _known_passes(cls, value: list[str]) -> list[str]:
        import onnxoptimizer

        available = set(onnxoptimizer.get_available_passes())
        unknown = [p for p in value if p not in available]
        if unknown:
            raise ValueError(f"unknown onnxoptimizer pass {', '.join(map(repr, unknown))}; available: "
                             f"{', '.join(sorted(available))}")
        return value


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(source.onnx_file))
    before_nodes, before_opset = len(model.graph.node), model_opset(model)
    if before_opset < UPGRADE_BELOW:
        ctx.progress(0.1, f"upgrading opset {before_opset} to {config.target_opset}")
    model = modernize(model, config.target_opset)
    if config.passes:
        import onnxoptimizer

        ctx.progress(0.4, f"running {len(config.passes)} onnxoptimizer passes")
        try:
            model = onnxoptimizer.optimize(model, list(config.passes))
        except Exception as exc:
            raise PassError(f"onnxoptimizer failed on this model; drop a pass and retry ({exc}).") from exc
    staged = ctx.scratch / "staged.onnx"
    onnx.save(model, str(staged))
    out = ctx.scratch / "model.onnx"
    ctx.progress(0.7, f"onnxruntime {config.level} optimization")
    options = ort.SessionOptions()
    options.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[config.level]
    options.optimized_model_filepath = str(out)
    try:
        ort.InferenceSession(str(staged), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise PassError(f"onnxruntime could not load the model to optimize it ({exc}).") from exc
    staged.unlink()
    result = onnx.load(str(out), load_external_data=False)
    ctx.progress(1.0, "optimized")
    return PassResult(Artifact(out, "onnx"), {
        "opset_before": before_opset, "opset_after": model_opset(result),
        "nodes_before": before_nodes, "nodes_after": len(result.graph.node),
    })


PASS = PassSpec(
    name="onnx-optimize",
    summary="Fuse and simplify an ONNX graph (opset upgrade, onnxoptimizer, ONNX Runtime offline optimization).",
    accepts=("onnx",),
    produces="onnx",
    config=Config,
    run=run,
    kind="conversion",
    needs="nothing",
)
