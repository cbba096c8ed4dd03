"""ONNX external-data references must name a plain, regular, singly-linked file inside the upload."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from engine.errors import UnsafeFileError
from engine.formats import inspect_model, prepare_upload
from engine.formats.onnx_external import check_external_data, load_onnx_proto
from tests.safety.conftest import tiny_onnx_model

VICTIM = b"victim bytes that must never be read or changed" + bytes(64)


def _point_at(model, location: str, offset: int = 0, length: int = 64):
    import onnx

    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return model


def _folder(tmp_path: Path, location: str, **kw) -> Path:
    import onnx

    folder = tmp_path / "upload"
    folder.mkdir()
    onnx.save(_point_at(tiny_onnx_model(), location, **kw), folder / "model.onnx")
    (folder / "weights.bin").write_bytes(bytes(64))
    return folder


@pytest.fixture()
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.bin"
    path.write_bytes(VICTIM)
    return path


def _refused(folder: Path, tmp_path: Path, pattern: str) -> None:
    with pytest.raises(UnsafeFileError, match=pattern):
        check_external_data(load_onnx_proto(folder / "model.onnx"), folder)
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            if path.is_file() and not path.is_symlink():
                zf.write(path, path.name)
    with pytest.raises(UnsafeFileError):
        prepare_upload(archive, tmp_path / "work")


def test_external_parent_path_refused(victim: Path, tmp_path: Path) -> None:
    _refused(_folder(tmp_path, "../victim.bin"), tmp_path, r"tensor 'W' reads external data from outside its folder")
    assert victim.read_bytes() == VICTIM


def test_external_absolute_path_refused(victim: Path, tmp_path: Path) -> None:
    _refused(_folder(tmp_path, str(victim)), tmp_path, r"from an absolute path")
    assert victim.read_bytes() == VICTIM


def test_external_nested_path_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "sub/x.bin")
    (folder / "sub").mkdir()
    (folder / "sub" / "x.bin").write_bytes(bytes(64))
    _refused(folder, tmp_path, r"from a nested path \('sub/x.bin'\)")


def test_external_symlink_refused(victim: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "link.bin")
    os.symlink(victim, folder / "link.bin")
    with pytest.raises(UnsafeFileError, match=r"through a symbolic link \('link.bin'\)"):
        check_external_data(load_onnx_proto(folder / "model.onnx"), folder)
    with pytest.raises(UnsafeFileError, match=r"contains a symbolic link \('link.bin'\)"):
        prepare_upload(folder, tmp_path / "work")  # a folder upload from the CLI
    assert victim.read_bytes() == VICTIM


def test_external_hard_link_refused(victim: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "hard.bin")
    os.link(victim, folder / "hard.bin")
    with pytest.raises(UnsafeFileError, match=r"from a hard-linked file \('hard.bin'\)"):
        check_external_data(load_onnx_proto(folder / "model.onnx"), folder)
    with pytest.raises(UnsafeFileError, match=r"contains a hard-linked file"):
        prepare_upload(folder, tmp_path / "work")
    assert victim.read_bytes() == VICTIM


def test_external_offset_out_of_bounds_refused(tmp_path: Path) -> None:
    _refused(_folder(tmp_path, "weights.bin", offset=32, length=64), tmp_path, r"reads bytes 32\.\.96 .* holds only 64")


def test_external_data_in_single_file_refused(tmp_path: Path) -> None:
    import onnx

    src = tmp_path / "single.onnx"
    onnx.save(_point_at(tiny_onnx_model(), "weights.bin"), src)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "weights.bin").write_bytes(bytes(64))  # must not be picked up from workdir
    with pytest.raises(UnsafeFileError, match=r"but the upload is a single file"):
        prepare_upload(src, tmp_path / "work")


def test_external_data_in_if_subgraph_refused(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    branch_weight = _point_at(tiny_onnx_model(), "../victim.bin").graph.initializer[0]
    branch = helper.make_graph([helper.make_node("Identity", ["W"], ["out"])], "then", [],
                               [helper.make_tensor_value_info("out", TensorProto.FLOAT, [4, 4])], [branch_weight])
    other = helper.make_graph([helper.make_node("Constant", [], ["out"], value=numpy_helper.from_array(
        np.zeros((4, 4), np.float32)))], "else", [], [helper.make_tensor_value_info("out", TensorProto.FLOAT, [4, 4])])
    graph = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)], "g",
                              [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])])
    folder = tmp_path / "upload"
    folder.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "model.onnx")
    _refused(folder, tmp_path, r"tensor 'W' reads external data from outside its folder")


def test_valid_external_data_accepted_and_inspected(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "weights.bin")
    artifact = prepare_upload(folder, tmp_path / "work")
    facts = inspect_model(artifact)
    assert facts["params"] == 16 and facts["inputs"][0]["shape"] == ["batch", 4]
    assert facts["flops"] == 2 * 16
