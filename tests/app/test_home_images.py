"""The Home page offers image models for laying out a zip of images."""
from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from engine import api
from tests.app.conftest import run_job


def _image_model(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["scores"])], "nchw",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 24])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_home_lists_image_models_and_the_layout_follows_the_model(page, home: Path, tiny_onnx: Path,
                                                                   tmp_path: Path) -> None:
    image_id = run_job(api.submit_import(_image_model(tmp_path / "img.onnx"), name="nchw").id).result["model_id"]
    run_job(api.submit_import(tiny_onnx, name="tiny").id)  # 2-D input: not offered
    at = page("home")
    select = next(s for s in at.selectbox if s.key == "images_for_model")
    labels = list(select.options)  # AppTest holds the formatted labels
    assert labels == ["keep their size", f"#{image_id} nchw"]
    assert api.image_layout_for(api.get_model(image_id)) == {"size": [32, 24], "channels": 3, "channels_first": True}
