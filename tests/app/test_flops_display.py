"""A model that takes any image size shows its FLOPs with the size they were counted at."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine import api
from tests.app.conftest import run_job


def _any_size_cnn(path: Path) -> Path:
    """Conv 3→4 (3×3, pad 1) then a global average pool over an NCHW image of any height and width."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("GlobalAveragePool", ["c"], ["pooled"])], "any_size",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["N", 4, 1, 1])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_models_page_names_the_size_flops_were_counted_at(page, home: Path, tmp_path: Path) -> None:
    model_id = run_job(api.submit_import(_any_size_cnn(tmp_path / "cnn.onnx"), name="cnn").id).result["model_id"]
    flops = api.get_model(model_id).flops
    assert flops == 2 * 224 * 224 * 4 * 27
    at = page("models")
    shown = {m.label: m.value for m in at.metric}["FLOPs / sample"]
    assert shown == "10.84 M at 224×224"
    assert list(at.dataframe[0].value["FLOPs"]) == [shown]
