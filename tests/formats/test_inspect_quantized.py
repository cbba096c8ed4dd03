"""FLOPs of a statically quantized ONNX graph count the same convolutions as its float parent."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.artifact import Artifact
from engine.formats import inspect_model
from engine.passes import PASSES
from engine.formats.datasets import DatasetArrays
from engine.passes.base import PassContext


def test_quantized_graph_flops_match_the_float_parent(digits_onnx: Path, digits_files: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    spec = PASSES["ort-quantize-static"]
    x = np.load(digits_files[1])["x"][:32]
    result = spec.run(Artifact(digits_onnx, "onnx"), spec.config(samples=32),
                      PassContext(scratch=tmp_path, dataset=DatasetArrays(x)))
    child, parent = inspect_model(result.artifact), inspect_model(Artifact(digits_onnx, "onnx"))
    ops = child["info"]["op_histogram"]
    assert "QLinearConv" in ops and "QLinearAdd" in ops  # the residual add is a com.microsoft contrib op
    assert child["flops"] == parent["flops"] > 0
