"""Shared first steps of the ONNX Runtime quantization passes."""
from __future__ import annotations

import contextlib

from engine.artifact import Artifact
from engine.passes.base import PassContext


def prepare_for_quantization(source: Artifact, ctx: PassContext, preprocess: bool = True) -> str:
    """The path to quantize: legacy models (opset < 13) upgraded, then ``quant_pre_process`` (shape
    inference, constant folding, fusions), which also turns computed weights into initializers."""
    import onnx

    from engine.passes.onnx_opset import UPGRADE_BELOW, model_opset, modernize

    src = str(source.onnx_file)
    model = onnx.load(src, load_external_data=False)
    if model_opset(model) < UPGRADE_BELOW:
        ctx.progress(0.03, f"upgrading opset {model_opset(model)} to 17 before quantizing")
        src = str(ctx.scratch / "modernized.onnx")
        onnx.save(modernize(onnx.load(str(source.onnx_file))), src)
    if not preprocess:
        return src if src != str(source.onnx_file) else _staged_copy(source, ctx)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    ctx.progress(0.05, "pre-processing (shape inference, constant folding, fusions)")
    staged = ctx.scratch / "preprocessed.onnx"
    try:
        # it leaves temp files (sym_shape_infer_temp.onnx, <uuid>.data) in the working directory
        with contextlib.chdir(ctx.scratch):
            quant_pre_process(src, str(staged))
        return str(staged)
    except Exception as exc:  # pre-processing is an optimization: quantize the model as it is
        ctx.log.warning("quant_pre_process failed, quantizing without it: %s", exc)
        return src


def _staged_copy(source: Artifact, ctx: PassContext) -> str:
    """A copy of the source in scratch: ``quantize_static`` writes ``<name>-inferred.onnx`` beside the model
    it is given, and a stored artifact (a node the search reuses) lies in the read-only store."""
    import shutil

    import onnx

    dest = ctx.scratch / "source.onnx"
    head = onnx.load(str(source.onnx_file), load_external_data=False)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in head.graph.initializer):
        onnx.save(onnx.load(str(source.onnx_file)), str(dest), save_as_external_data=True,
                  location="source.onnx.data")
    else:
        shutil.copyfile(source.onnx_file, dest)
    return str(dest)


def discard_staging(ctx: PassContext) -> None:
    for name in ("modernized.onnx", "preprocessed.onnx", "source.onnx", "source.onnx.data", "source-inferred.onnx"):
        (ctx.scratch / name).unlink(missing_ok=True)
