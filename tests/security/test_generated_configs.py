"""Tensor names from an uploaded model cannot inject into the configs and scripts an export writes."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from google.protobuf import text_encoding

from engine import api
from engine.exporters import pbtxt_string
from engine.jobs import service
from tests.security.conftest import HOSTILE_NAME

pytestmark = pytest.mark.xdist_group("jobs")


def _export(model_id: int, target: str, dest: Path) -> Path:
    return api.copy_export(service.wait(api.submit_export(model_id, target).id, timeout_s=300), str(dest) + "/")


def test_triton_config_and_bundle_escape_hostile_names(home: Path, tmp_path: Path, hostile_names_onnx: Path) -> None:
    # before: an input named 'x"\n}...' ended its string and added an `input [...]` block to config.pbtxt
    model_id = service.wait(api.submit_import(hostile_names_onnx, name="names").id).result["model_id"]
    with zipfile.ZipFile(_export(model_id, "triton", tmp_path / "triton")) as zf:
        config = zf.read("names/config.pbtxt").decode()
    lines = config.splitlines()
    assert [line for line in lines if line.startswith(("input", "output"))] == ["input [", "output ["]
    assert "injected" not in [line.strip() for line in lines] and len(lines) == 17
    quoted = [line.strip()[len("name: "):] for line in lines if line.strip().startswith("name: ")]
    names = [text_encoding.CUnescape(q[1:-1]).decode("utf-8") for q in quoted]
    assert names == ["names", HOSTILE_NAME, "out`\n# y"]  # exactly the model's names, nothing added

    with zipfile.ZipFile(_export(model_id, "bundle", tmp_path / "bundle")) as zf:
        readme = zf.read("README.md").decode()
        manifest = json.loads(zf.read("metrics.json"))
    assert manifest["sample_inputs"] == [HOSTILE_NAME]
    io_lines = [line for line in readme.splitlines() if line.startswith(("- input", "- output"))]
    assert len(io_lines) == 2 and "input [" not in readme.replace(io_lines[0], "")


@pytest.mark.parametrize("name", ['a"b', "a\nb", "a\\b", "a'b", "é", "\x00"])
def test_pbtxt_strings_round_trip(name: str) -> None:
    literal = pbtxt_string(name)
    assert literal.startswith('"') and literal.endswith('"') and "\n" not in literal and '"' not in literal[1:-1]
    assert text_encoding.CUnescape(literal[1:-1]).decode("utf-8") == name
