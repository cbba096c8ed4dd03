"""The kind of an upload is read from its bytes, never from its name."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import FormatError
from engine.formats import prepare_upload
from tests.formats.conftest import LIGHT


def test_upload_named_with_traversal_lands_under_generated_name(tmp_path: Path) -> None:
    hostile_name = tmp_path / "uploads" / "..%2f..%2fx.onnx"
    hostile_name.parent.mkdir()
    shutil.copyfile(LIGHT / "light_squeezenet.onnx", hostile_name)
    artifact = prepare_upload(hostile_name, tmp_path / "work")
    assert artifact.path == tmp_path / "work" / "model.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads", "work"]


@pytest.mark.parametrize("content", [b"hello, I am not a model\n" * 10, b"\x00" * 64, b"PK\x03\x04broken"])
def test_non_model_refused_with_format_error(content: bytes, tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(content)
    with pytest.raises(FormatError, match=r"^the (file|uploaded file|zip)"):
        prepare_upload(src, tmp_path / "work")


def test_empty_upload_refused(tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        prepare_upload(src, tmp_path / "work")


def test_zip_without_model_refused(tmp_path: Path) -> None:
    import zipfile

    src = tmp_path / "notes.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(FormatError, match="no model at its root"):
        prepare_upload(src, tmp_path / "work")
