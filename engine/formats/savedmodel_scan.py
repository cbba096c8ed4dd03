"""Refuse SavedModels whose graphs do anything but pure tensor computation.

Every op of the main graph and of every function in the library (not only the signatures: a function
that no signature calls can still run on load or be called by one that does) must be on the allow-list
in ``tf_op_allowlist``. Anything else — ``ReadFile``, ``CSVDatasetV2``, ``SqlDataset``, ``PyFunc``, a
lookup table filled from a file, an op Trimline has never heard of — is refused with a sentence naming
the op and the function.

Every SavedModel carries saver functions (``_traced_save``/``_traced_restore``) that legitimately use
checkpoint ops (SaveV2, RestoreV2, MergeV2Checkpoints...). Those functions are found by following the
``saver_def`` nodes, and only there are the checkpoint ops allowed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from engine.errors import FormatError, UnsafeFileError
from engine.formats.tf_op_allowlist import ALLOWED_OPS, refusal_rank, why_refused

PRINT_STREAMS = ("log(", "stdout", "stderr")
CHECKPOINT_OPS = frozenset({
    "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints",
    "ShardedFilename", "ShardedFilespec",
})


def read_saved_model_proto(pb_path: Path) -> Any:
    """Parse ``saved_model.pb``; FormatError when it is not a SavedModel protobuf."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(pb_path.read_bytes())
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise FormatError("saved_model.pb is damaged or not a SavedModel; export the model again") from exc
    if not proto.meta_graphs:
        raise FormatError("saved_model.pb holds no graph; export the model again")
    return proto


def _called_functions(nodes: Iterable[Any], library: set[str]) -> set[str]:
    """Names of functions the nodes call: as an op, or through any func/list-of-func attribute."""
    called: set[str] = set()
    for node in nodes:
        if node.op in library:
            called.add(node.op)
        for value in node.attr.values():
            if value.func.name:
                called.add(value.func.name)
            called.update(f.name for f in value.list.func)
    return called


def _closure(start: set[str], functions: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [name for name in start if name in functions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_called_functions(functions[name].node_def, set(functions)) - seen)
    return seen


def _saver_functions(meta_graph: Any, functions: dict[str, Any]) -> set[str]:
    saver = meta_graph.saver_def
    roots = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]} - {""}
    nodes = [n for n in meta_graph.graph_def.node if n.name in roots]
    return _closure(_called_functions(nodes, set(functions)), functions)


def _refusal(op: str, where: str, clause: str | None = None) -> UnsafeFileError:
    return UnsafeFileError(f"the SavedModel uses the {op} op (in {where}), which {clause or why_refused(op)}; "
                           "Trimline refuses it — export the model with plain tensor operations only")


def refused_ops(nodes: Iterable[Any], where: str, library: set[str], saver: bool = False,
                scope: str | None = None) -> list[tuple[int, str, str, str | None]]:
    """(rank, op, where, clause) for every node of ``nodes`` whose op is not allowed. Calls of library
    functions are allowed (each function is checked on its own); checkpoint ops only in a saver."""
    refused: list[tuple[int, str, str, str | None]] = []
    for node in nodes:
        op = node.op
        if op in library:
            continue
        if op in CHECKPOINT_OPS:
            if not (saver or (scope is not None and node.name.startswith(scope))):
                refused.append((2, op, where, "reads or writes checkpoint files outside the model's own saver"))
        elif op not in ALLOWED_OPS:
            refused.append((refusal_rank(op), op, where, None))
        elif op == "PrintV2":
            stream = node.attr.get("output_stream")
            if stream is not None and not stream.s.decode(errors="replace").startswith(PRINT_STREAMS):
                refused.append((2, op, where, "prints to a file"))
    return refused


def scan_saved_model(folder: Path) -> dict[str, Any]:
    """Raise UnsafeFileError naming the first op that is not allowed; return the parsed proto facts.

    Returns ``{"proto", "signatures", "n_functions"}``. FormatError when ``saved_model.pb`` is missing
    or damaged.
    """
    pb = folder / "saved_model.pb"
    if not pb.is_file():
        raise FormatError("the SavedModel has no saved_model.pb; zip the whole SavedModel folder")
    proto = read_saved_model_proto(pb)
    n_functions = 0
    for meta_graph in proto.meta_graphs:
        functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
        n_functions += len(functions)
        saver = _saver_functions(meta_graph, functions)
        # TF1 exports keep their saver as plain nodes under one name scope ("save/SaveV2"...)
        save_name = meta_graph.saver_def.save_tensor_name
        scope = save_name.split("/")[0] + "/" if "/" in save_name else None
        library = set(functions)
        refused = refused_ops(meta_graph.graph_def.node, "the main graph", library, scope=scope)
        for name, function in functions.items():
            refused += refused_ops(function.node_def, f"function '{name}'", library, saver=name in saver)
        if refused:  # name the most telling one: the op that reads the file, not the loop around it
            _, op, where, clause = min(refused, key=lambda r: r[0])
            raise _refusal(op, where, clause)
    signatures = sorted(proto.meta_graphs[0].signature_def)
    return {"proto": proto, "signatures": signatures, "n_functions": n_functions}
