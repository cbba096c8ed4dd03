"""Checking ONNX external-data references before onnx or onnxruntime opens any of them.

ONNX tensors may say "my bytes are in file X at offset O"; onnx and onnxruntime have had
path-traversal bugs there (CVE-2022-25882, CVE-2024-27318) and onnxruntime follows hard links. So every
reference is checked on the raw protobuf, subgraphs and functions included, and must name a plain,
regular, singly-linked file inside the model's own folder, with its byte range inside that file.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterator

from engine.errors import FormatError, UnsafeFileError


def load_onnx_proto(path: Path) -> Any:
    """Parse an ONNX file without touching external data; FormatError when it is not ONNX."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise FormatError("the file is not a readable ONNX model (damaged or truncated); export it again") from exc
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise FormatError("the file is not an ONNX model (no graph, IR version or opset); export it again")
    return model


def iter_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto in the model: initializers, sparse ones, Constant-like attributes, in the main
    graph, in subgraphs (If/Loop/Scan bodies) and in local functions."""
    graphs = [model.graph]
    nodes: list[Any] = [n for f in model.functions for n in f.node]
    while graphs or nodes:
        if graphs:
            graph = graphs.pop()
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield sparse.values
                yield sparse.indices
            nodes.extend(graph.node)
            continue
        node = nodes.pop()
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield attr.sparse_tensor.values
                yield attr.sparse_tensor.indices
            for sparse in attr.sparse_tensors:
                yield sparse.values
                yield sparse.indices
            if attr.HasField("g"):
                graphs.append(attr.g)
            graphs.extend(attr.graphs)


def external_refs(model: Any) -> list[tuple[str, dict[str, str]]]:
    """(tensor name, {location, offset, length, ...}) for every tensor stored outside the protobuf."""
    import onnx

    refs = []
    for tensor in iter_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            refs.append((tensor.name, {e.key: e.value for e in tensor.external_data}))
    return refs


def _refuse(tensor: str, why: str) -> UnsafeFileError:
    return UnsafeFileError(f"the ONNX tensor '{tensor}' {why}; Trimline refuses it — keep external data "
                           "as plain files next to model.onnx and zip them together")


def check_location(tensor: str, location: str, folder: Path | None) -> Path:
    """The checked path of one external file, or UnsafeFileError saying what is wrong with it."""
    if not location:
        raise _refuse(tensor, "has external data without a file name")
    if folder is None:
        raise _refuse(tensor, f"reads external data from '{location}' but the upload is a single file")
    if location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        raise _refuse(tensor, f"reads external data from an absolute path ('{location}')")
    if location in (".", "..") or ".." in location.replace("\\", "/").split("/"):
        raise _refuse(tensor, f"reads external data from outside its folder ('{location}')")
    if "/" in location or "\\" in location or "\x00" in location:
        raise _refuse(tensor, f"reads external data from a nested path ('{location}'), not a plain file name")
    path = folder / location
    try:
        info = os.lstat(path)
    except OSError:
        raise _refuse(tensor, f"reads external data from '{location}', which is not in the upload") from None
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(tensor, f"reads external data through a symbolic link ('{location}')")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(tensor, f"reads external data from '{location}', which is not a regular file")
    if info.st_nlink != 1:
        raise _refuse(tensor, f"reads external data from a hard-linked file ('{location}')")
    return path


def check_external_data(model: Any, folder: Path | None) -> int:
    """Check every external reference of ``model`` (parsed without data) against ``folder``.

    ``folder`` is the folder holding the model, or None for a single uploaded file (then any external
    reference is refused). Returns the number of references; raises UnsafeFileError otherwise.
    """
    refs = external_refs(model)
    for tensor, entry in refs:
        path = check_location(tensor, entry.get("location", ""), folder)
        try:
            offset = int(entry.get("offset", "0"))
            length = int(entry["length"]) if "length" in entry else None
        except ValueError:
            raise _refuse(tensor, "has a non-numeric external data offset or length") from None
        size = path.stat().st_size
        if offset < 0 or (length is not None and length < 0) or offset + (length or 0) > size:
            raise _refuse(tensor, f"reads bytes {offset}..{offset + (length or 0)} of "
                                  f"'{entry['location']}', which holds only {size} bytes")
    return len(refs)
