"""Chain two models into one: this model's outputs feed the second model's inputs.

ONNX graphs are merged with ``onnx.compose`` (outputs wired to inputs by name, by position when each
side has one, or by an explicit ``io_map``); Keras models become one functional model. Typical uses: a
preprocessing model in front of a classifier, a feature extractor and a head. The fidelity gate
compares the composed model with the two models run one after the other.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, field_validator

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec


class Config(PassConfig):
    second: int = Field(description="Id of the model that runs after this one (its inputs take this one's outputs).")
    io_map: list[str] = Field(default_factory=list,
                              description="Wiring as output:input pairs, e.g. scaled:image (default: by name, or "
                                          "the single output to the single input).")

    @field_validator("io_map")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            if pair.count(":") != 1 or not all(pair.split(":")):
                raise ValueError(f"io_map entries are output:input pairs, got {pair!r}")
        return value


def wiring(outputs: list[str], inputs: list[str], io_map: list[str]) -> list[tuple[str, str]]:
    """(output of the first, input of the second) pairs covering every input of the second model."""
    if io_map:
        pairs = [tuple(p.split(":")) for p in io_map]
        bad_out = [o for o, _ in pairs if o not in outputs]
        bad_in = [i for _, i in pairs if i not in inputs]
        if bad_out or bad_in:
            what = f"output '{bad_out[0]}' (outputs: {', '.join(outputs)})" if bad_out else \
                f"input '{bad_in[0]}' (inputs: {', '.join(inputs)})"
            raise PassError(f"io_map names an unknown {what}")
    elif set(inputs) <= set(outputs):
        pairs = [(name, name) for name in inputs]
    elif len(outputs) == 1 and len(inputs) == 1:
        pairs = [(outputs[0], inputs[0])]
    else:
        raise PassError(f"cannot wire outputs {', '.join(outputs)} to inputs {', '.join(inputs)} by name; "
                        "give io_map as output:input pairs")
    unfed = [i for i in inputs if i not in {b for _, b in pairs}]
    if unfed:
        raise PassError(f"the second model's input '{unfed[0]}' is not fed; add it to io_map")
    return pairs


def _compose_onnx(first: Artifact, second: Artifact, config: Config,
                  ctx: PassContext) -> tuple[Artifact, list[tuple[str, str]]]:
    import onnx
    from onnx import compose, version_converter

    a, b = onnx.load(str(first.onnx_file)), onnx.load(str(second.onnx_file))
    opset = lambda m: next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)  # noqa: E731
    target = max(opset(a), opset(b))
    try:
        a, b = (m if opset(m) == target else version_converter.convert_version(m, target) for m in (a, b))
    except Exception as exc:
        raise PassError(f"the two models use opsets {opset(a)} and {opset(b)} and could not be aligned ({exc})") from exc
    a.ir_version = b.ir_version = max(a.ir_version, b.ir_version)
    pairs = wiring([o.name for o in a.graph.output], [i.name for i in b.graph.input], config.io_map)
    try:
        merged = compose.merge_models(a, b, io_map=pairs, prefix1="first/", prefix2="second/")
    except Exception as exc:
        raise PassError(f"onnx.compose could not chain the models ({str(exc).splitlines()[0]})") from exc
    # Keep the first model's input names and the second's output names, so callers need not change.
    rename = {f"first/{i.name}": i.name for i in a.graph.input} | {f"second/{o.name}": o.name for o in b.graph.output}
    for value in [*merged.graph.input, *merged.graph.output]:
        value.name = rename.get(value.name, value.name)
    for node in merged.graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    consumed = {f"first/{o}" for o, _ in pairs}
    kept = [o for o in merged.graph.output if o.name not in consumed]
    del merged.graph.output[:]
    merged.graph.output.extend(kept)
    onnx.checker.check_model(merged)
    out = ctx.scratch / "model.onnx"
    onnx.save(merged, str(out))
    return Artifact(out, "onnx"), pairs


def _compose_keras(first: Artifact, second: Artifact, config: Config, ctx: PassContext) -> Artifact:
    import keras

    from engine.bridge import load_keras_any

    a, b = load_keras_any(first.path), load_keras_any(second.path)
    if len(a.outputs) != 1 or len(b.inputs) != 1 or config.io_map:
        raise PassError("Keras models are chained output to input: the first needs one output and the second "
                        "one input (io_map is for ONNX)")
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]) for t in a.inputs]
    chained = b(a(inputs[0] if len(inputs) == 1 else inputs))
    model = keras.Model(inputs, chained, name=f"{a.name}_then_{b.name}")
    out = ctx.scratch / "model.keras"
    model.save(out)
    return Artifact(out, "keras")


def sequence_fidelity(first: Artifact, second: Artifact, composed: Artifact, feeds: dict[str, np.ndarray],
                      pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """Compare the composed model with ``second(first(feeds))`` on the same inputs."""
    from engine.runtime import open_model

    one, two, both = open_model(first), open_model(second), open_model(composed)
    mid = dict(zip((o["name"] for o in one.outputs), one.run(feeds)))
    if pairs is None:  # Keras: one output into one input
        pairs = [(next(iter(mid)), two.inputs[0]["name"])]
    reference = two.run({i: mid[o] for o, i in pairs})
    got = both.run(feeds)[-len(reference):]  # any unwired outputs of the first model come first
    worst, rel, scale = 0.0, [], 0.0
    for r, g in zip(reference, got):
        r, g = np.asarray(r, np.float64), np.asarray(g, np.float64).reshape(np.shape(r))
        worst = max(worst, float(np.abs(r - g).max(initial=0.0)))
        scale = max(scale, float(np.abs(r).max(initial=0.0)))
        rel.append(float(np.abs(r - g).mean() / (np.abs(r).mean() + 1e-12)))
    top1 = None
    if reference[0].ndim == 2 and reference[0].shape[1] > 1:
        top1 = float(np.mean(np.argmax(reference[0], 1) == np.argmax(got[0], 1)))
    return {"max_abs_diff": worst, "mean_rel_diff": float(np.mean(rel)), "output_scale": scale,
            "top1_agreement": top1, "samples": int(next(iter(feeds.values())).shape[0]),
            "reference": "the two models run in sequence"}


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    from engine.fidelity import sample_feeds
    from engine.runtime import open_model

    second = ctx.models.get(config.second)
    if second is None:
        raise PassError(f"model {config.second} was not handed to the pass; compose it through trimline optimize")
    if second.format != source.format:
        raise PassError(f"both models must be {source.format}; model {config.second} is {second.format} "
                        f"(convert it first)")
    ctx.progress(0.2, "chaining the two models")
    pairs = None
    if source.format == "onnx":
        composed, pairs = _compose_onnx(source, second, config, ctx)
    else:
        composed = _compose_keras(source, second, config, ctx)
    ctx.progress(0.7, "comparing with the two models run in sequence")
    feeds = sample_feeds(open_model(source).inputs, n=32, dataset=ctx.dataset)
    fidelity = sequence_fidelity(source, second, composed, feeds, pairs)
    return PassResult(composed, {"fidelity": fidelity, "second": config.second, "io_map": [list(p) for p in pairs or []]})


PASS = PassSpec(
    name="compose",
    summary="Chain this ONNX model with a second one (its outputs feed the second's inputs) into one graph.",
    accepts=("onnx",),
    produces="onnx",
    config=Config,
    run=run,
    kind="conversion",
)
KERAS_PASS = PassSpec(
    name="compose-keras",
    summary="Chain this Keras model with a second one into one functional model.",
    accepts=("keras",),
    produces="keras",
    config=Config,
    run=run,
    kind="conversion",
)
