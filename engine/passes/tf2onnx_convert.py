"""TF → ONNX with tf2onnx: Keras 3 / tf-keras models through a ``tf.function``, SavedModels by signature.

``tf2onnx.convert.from_keras`` fails on Keras 3 models, so every Keras model is wrapped in
``tf.function(lambda *x: model(x, training=False))``. The traced function is frozen first (variables
*and* captured eager tensors become constants): ``from_function`` leaves captured tensors — such as a
Keras 3 ``Normalization`` layer's mean, in EfficientNet — behind as extra graph inputs.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import Field

from engine.artifact import Artifact
from engine.errors import PassError, first_line
from engine.passes import tolerances
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec
from engine.passes.tf_tracing import clean_name, keras_function, savedmodel_function


class Config(PassConfig):
    opset: int = Field(17, ge=9, le=21, description="ONNX opset to target (9–21); 17 suits onnxruntime 1.14+.")
    dynamic_batch: bool = Field(True, description="Keep the batch dimension dynamic; off fixes it to 1.")


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    import tensorflow as tf
    import tf2onnx

    ctx.progress(0.05, "loading the model")
    if source.format == "savedmodel":
        fn, spec, out_names = savedmodel_function(tf, source.path, config.dynamic_batch)
    else:
        fn, spec, out_names = keras_function(tf, source.path, config.dynamic_batch)
    out = ctx.scratch / "model.onnx"
    ctx.progress(0.3, f"converting to ONNX opset {config.opset}")
    try:
        model_proto = _convert_frozen(tf, tf2onnx, fn, spec, config.opset)
    except PassError:
        raise
    except Exception as exc:
        raise PassError(f"tf2onnx could not convert this model to ONNX opset {config.opset}: "
                        f"{first_line(exc)}.") from exc
    _rename_inputs(model_proto, [t.name for t in spec])
    _rename_outputs(model_proto, out_names)
    import onnx

    onnx.save(model_proto, str(out))
    ctx.progress(1.0, "converted")
    ops = Counter(n.op_type for n in model_proto.graph.node)
    qdq = ops["QuantizeLinear"] + ops["DequantizeLinear"]
    metrics = {"opset": config.opset, "nodes": ops.total(), "op_types": sorted(ops), "qdq_nodes": qdq}
    if qdq:  # a QAT model's fake-quant ops become Q/DQ pairs: the gate allows their rounding steps
        return PassResult(Artifact(out, "onnx"), metrics, tolerance=tolerances.QDQ,
                          min_agreement=tolerances.QDQ_MIN_AGREEMENT)
    return PassResult(Artifact(out, "onnx"), metrics)


def _convert_frozen(tf: Any, tf2onnx: Any, fn: Any, spec: list[Any], opset: int) -> Any:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(fn.get_concrete_function(*spec))
    graph_def = frozen.graph.as_graph_def()
    _erfc_as_one_minus_erf(tf, graph_def)
    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=[t.name for t in frozen.inputs], output_names=[t.name for t in frozen.outputs],
        opset=opset)
    _refuse_unconverted(model_proto, opset)
    return model_proto


def _erfc_as_one_minus_erf(tf: Any, graph_def: Any) -> None:
    """Keras's exact GELU computes ``erfc``, which ONNX lacks; ``erfc(x) = 1 − erf(x)`` and ONNX has Erf. The
    Erfc node becomes Erf under a new name, and a Sub under the old name keeps every consumer wired."""
    for node in [n for n in graph_def.node if n.op == "Erfc"]:
        name, dtype = node.name, node.attr["T"]
        node.name, node.op = f"{name}/erf", "Erf"
        one = graph_def.node.add(name=f"{name}/one", op="Const")
        one.attr["dtype"].type = dtype.type
        one.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(1.0, dtype=tf.dtypes.as_dtype(dtype.type)))
        sub = graph_def.node.add(name=name, op="Sub", input=[one.name, node.name])
        sub.attr["T"].CopyFrom(dtype)


def _refuse_unconverted(model_proto: Any, opset: int) -> None:
    """tf2onnx leaves a TensorFlow op it cannot map in the graph as it is; name it, and its layer, in a sentence."""
    import onnx

    known = {s.name for s in onnx.defs.get_all_schemas()}
    bad = next((n for n in model_proto.graph.node if n.domain in ("", "ai.onnx") and n.op_type not in known), None)
    if bad is not None:
        raise PassError(f"tf2onnx does not support the TensorFlow op {bad.op_type} (from layer '{layer_of(bad.name)}') "
                        f"at opset {opset}; try the tflite pass, which runs TensorFlow ops as they are")


# scopes TensorFlow and Keras put around every node: the call wrappers of a SavedModel and the model's own name
_WRAPPERS = re.compile(r"^(StatefulPartitionedCall|PartitionedCall|(functional|sequential|model)(_\d+)?)$")


def layer_of(node_name: str) -> str:
    """The layer a traced node came from: ``StatefulPartitionedCall/.../probit/erfinv/Erfinv`` → ``probit``,
    ``functional_1/ffn_1/Gelu/Erfc`` → ``ffn_1``."""
    parts = [p for p in node_name.split("/") if p]
    while len(parts) > 1 and _WRAPPERS.match(parts[0]):
        parts = parts[1:]
    return parts[0] if parts else node_name


def _rename_inputs(model: Any, names: list[str]) -> None:
    """``image:0`` → ``image``: the names users gave their inputs; tf2onnx's ``unk__12`` batch → ``batch``."""
    for graph_input, name in zip(model.graph.input, names):
        _rename(model, graph_input, clean_name(name))
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].dim_param.startswith("unk__"):
            dims[0].dim_param = "batch"


def _rename(model: Any, value: Any, name: str) -> None:
    old = value.name
    if name == old or any(i.name == name for i in model.graph.input) or any(o.name == name for o in model.graph.output):
        return
    for node in model.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
        node.input[:] = [name if i == old else i for i in node.input]
    value.name = name


def _rename_outputs(model: Any, names: list[str]) -> None:
    """Give the graph outputs the model's own output names instead of tf2onnx's ``Identity:0``."""
    for output, name in zip(model.graph.output, names):
        _rename(model, output, clean_name(name))


PASS = PassSpec(
    name="tf2onnx",
    summary="Convert a Keras model or SavedModel to ONNX with tf2onnx.",
    accepts=("keras", "savedmodel"),
    produces="onnx",
    config=Config,
    run=run,
    kind="conversion",
    needs="nothing",
)
