"""Refuse SavedModels whose graphs touch files, run Python or reach the system.

Every SavedModel carries saver functions (``_traced_save``/``_traced_restore``) that legitimately use
checkpoint ops (SaveV2, RestoreV2, MergeV2Checkpoints...). Those functions are found by following the
``saver_def`` nodes, and only there are the checkpoint ops allowed; everywhere else — the main graph,
the serving functions, resource initialisers that run on load, and every other function in the
library — they are refused, and the file/Python ops are refused in the saver functions too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from engine.errors import FormatError, UnsafeFileError

# Ops that read or write files, run Python, or write outside the graph.
FORBIDDEN_OPS = frozenset({
    "ReadFile", "WriteFile", "DeleteFile", "MatchingFiles", "PyFunc", "PyFuncStateless", "EagerPyFunc",
    "ImmutableConst", "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
    "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2",
    "IdentityReader", "IdentityReaderV2", "LMDBReader", "ReaderReadV2", "ReaderRead",
    "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "ExperimentalLMDBDataset", "LMDBDataset", "SaveDataset",
    "SaveDatasetV2", "LoadDataset", "SnapshotDataset", "SnapshotDatasetV2", "DatasetToTFRecord",
    "ExperimentalDatasetToTFRecord", "CreateSummaryFileWriter", "WriteSummary", "WriteScalarSummary",
    "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
    "WriteRawProtoSummary", "CreateSummaryDbWriter", "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2", "LoadAndRemapMatrix", "GenerateVocabRemapping", "RecordInput",
    "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
    "DebugNumericSummaryV2", "Copy", "CopyHost",
})
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


def _refusal(op: str, where: str) -> UnsafeFileError:
    return UnsafeFileError(f"the SavedModel uses the {op} op (in {where}), which reads or writes files or "
                           "runs Python; Trimline refuses it — export the model without file or Python ops")


def _check_nodes(nodes: Iterable[Any], where: str, allowed: frozenset[str], scope: str | None = None) -> None:
    for node in nodes:
        in_saver_scope = scope is not None and node.name.startswith(scope)
        if node.op in FORBIDDEN_OPS or (node.op in CHECKPOINT_OPS and node.op not in allowed
                                        and not in_saver_scope):
            raise _refusal(node.op, where)
        stream = node.attr.get("output_stream")
        if node.op == "PrintV2" and stream is not None and not stream.s.decode(errors="replace").startswith(
                ("log(", "stdout", "stderr")):
            raise _refusal("PrintV2 (to a file)", where)


def scan_saved_model(folder: Path) -> dict[str, Any]:
    """Raise UnsafeFileError naming the first file/Python op found; return the parsed proto facts.

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
        _check_nodes(meta_graph.graph_def.node, "the main graph", frozenset(), scope)
        for name, function in functions.items():
            _check_nodes(function.node_def, f"function '{name}'", CHECKPOINT_OPS if name in saver else frozenset())
    signatures = sorted(proto.meta_graphs[0].signature_def)
    return {"proto": proto, "signatures": signatures, "n_functions": n_functions}
