"""A composed chain as a Triton ensemble: both members as models of their own, and an ensemble model that
wires them as the compose pass did, so Triton can batch, version and place each member separately.

Layout (``NAME`` is the composed model's served name)::

    NAME/config.pbtxt          platform "ensemble": the composed model's inputs and outputs, two steps
    NAME/1/                    (empty: an ensemble has no file of its own)
    NAME_step1/config.pbtxt    the first member (onnxruntime), NAME_step1/1/model.onnx
    NAME_step2/config.pbtxt    the second member, NAME_step2/1/model.onnx

Tensor names are the composed model's own: its inputs feed the first member; the first member's output
``o`` is the ensemble tensor ``first/o`` (the name the composed graph gives an output it keeps); the
second member's outputs keep their names. Clients of the composed model need not change.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.artifact import Artifact
from engine.errors import InputError

MAX_BATCH = 64


def _batched(io: dict[str, Any]) -> bool:
    return all(t["shape"] and not isinstance(t["shape"][0], int) for t in io["inputs"])


def _dims(tensor: dict[str, Any], batched: bool) -> str:
    shape = tensor["shape"][1:] if batched else tensor["shape"]
    return ", ".join(str(d) if isinstance(d, int) and d >= 0 else "-1" for d in shape)


def _map(kind: str, pairs: list[tuple[str, str]]) -> str:
    from engine.exporters import pbtxt_string

    return "".join(f"      {kind} {{ key: {pbtxt_string(k)} value: {pbtxt_string(v)} }}\n" for k, v in pairs)


def ensemble_config(name: str, composed: dict[str, Any], first: dict[str, Any], second: dict[str, Any],
                    pairs: list[tuple[str, str]], batched: bool) -> str:
    """The ensemble's ``config.pbtxt``. ``composed``, ``first`` and ``second`` carry ``inputs``/``outputs``
    ([{name, shape, dtype}]); ``pairs`` are (first's output, second's input)."""
    from engine.exporters import pbtxt_string, triton_config

    io = triton_config(name, composed, max_batch=MAX_BATCH if batched else 0).split("\n", 3)[3]  # input/output
    fed = {i: f"first/{o}" for o, i in pairs}
    step1 = (_map("input_map", [(t["name"], t["name"]) for t in first["inputs"]]) +
             _map("output_map", [(t["name"], f"first/{t['name']}") for t in first["outputs"]]))
    step2 = (_map("input_map", [(t["name"], fed[t["name"]]) for t in second["inputs"]]) +
             _map("output_map", [(t["name"], t["name"]) for t in second["outputs"]]))
    return (f'name: {pbtxt_string(name)}\nplatform: "ensemble"\nmax_batch_size: {MAX_BATCH if batched else 0}\n'
            f"{io}ensemble_scheduling {{\n  step [\n"
            f"    {{\n      model_name: {pbtxt_string(name + '_step1')}\n      model_version: -1\n{step1}    }},\n"
            f"    {{\n      model_name: {pbtxt_string(name + '_step2')}\n      model_version: -1\n{step2}    }}\n"
            "  ]\n}\n")


def build_ensemble(name: str, chain: dict[str, Any], stage: Path) -> None:
    """Write the ensemble repository under ``stage``. ``chain``: ``composed``, ``first`` and ``second``
    (each ``{path, format, inputs, outputs}``) and ``pairs``. Raises InputError when the members disagree
    on a batch dimension (Triton batches an ensemble only when every member does)."""
    from engine.exporters import copy_triton_version, triton_config

    composed, first, second = chain["composed"], chain["first"], chain["second"]
    pairs = [tuple(p) for p in chain["pairs"]]
    kinds = {_batched(composed), _batched(first), _batched(second)}
    if len(kinds) != 1:
        raise InputError("the chain's members disagree on a batch dimension, so Triton cannot run them as one "
                         "ensemble; export the composed model as a single Triton model instead")
    batched = kinds.pop()
    for step, member in (("step1", first), ("step2", second)):
        folder = stage / f"{name}_{step}"
        copy_triton_version(Artifact(Path(member["path"]), member["format"]), folder / "1")
        (folder / "config.pbtxt").write_text(triton_config(f"{name}_{step}", member,
                                                           max_batch=MAX_BATCH if batched else 0))
    (stage / name / "1").mkdir(parents=True)
    (stage / name / "config.pbtxt").write_text(ensemble_config(name, composed, first, second, pairs, batched))
