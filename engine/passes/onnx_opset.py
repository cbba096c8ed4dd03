"""Legacy ONNX models (opset below 13) brought up to date, shared by graph optimization and quantization."""
from __future__ import annotations

from engine.errors import PassError

UPGRADE_BELOW = 13


def model_opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def modernize(model, target_opset: int = 17):  # noqa: ANN001, ANN201
    """Upgrade a legacy model (opset below 13) and drop weights listed as graph inputs; other models pass
    through unchanged. Quantization tools need this too: they mis-handle IR-3 weight inputs."""
    import onnx

    opset = model_opset(model)
    if opset < UPGRADE_BELOW:
        try:
            model = onnx.version_converter.convert_version(model, target_opset)
        except Exception as exc:
            raise PassError(f"could not upgrade the model from opset {opset} to {target_opset}; "
                            f"try a lower target_opset ({exc}).") from exc
        # the converter keeps the old IR version (3), which opset 13+ does not allow
        model.ir_version = max(model.ir_version, onnx.helper.find_min_ir_version_for(list(model.opset_import)))
    _drop_initializer_inputs(model)
    return model


def _drop_initializer_inputs(model) -> None:
    """Old models (IR < 4) list every weight as a graph input too; once constant folding removes a weight,
    its input would dangle as a required input. IR 4+ lets weights be initializers only."""
    if model.ir_version < 4:
        return
    weights = {t.name for t in model.graph.initializer}
    kept = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(kept)
