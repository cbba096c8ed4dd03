"""Importing and inspecting ONNX, SavedModel and TFLite models."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.formats import inspect_model, prepare_upload
from tests.formats.conftest import LIGHT, zip_folder

# (parameters, MACs) published for the zoo networks, ±10%: the light copies keep the real shapes
ZOO = {"light_bvlc_alexnet": (61.0e6, 0.72e9), "light_resnet50": (25.6e6, 4.1e9),
       "light_squeezenet": (1.24e6, 0.35e9), "light_vgg19": (143.7e6, 19.6e9)}


@pytest.mark.parametrize("name", sorted(p.stem for p in LIGHT.glob("*.onnx")))
def test_onnx_zoo_light_model_inspected(name: str, tmp_path: Path) -> None:
    artifact = prepare_upload(LIGHT / f"{name}.onnx", tmp_path)
    assert artifact.path == tmp_path / "model.onnx"
    facts = inspect_model(artifact)
    assert facts["info"]["opset"] == 9
    assert facts["inputs"][0]["shape"] == [1, 3, 224, 224] and facts["inputs"][0]["dtype"] == "float32"
    assert facts["info"]["layout"] == {facts["inputs"][0]["name"]: "NCHW"}
    assert facts["info"]["op_histogram"]["Conv"] >= 2
    assert facts["flops"] > 1e8 and not facts["info"]["flops_partial"]
    assert set(facts["info"]["per_op_flops"]) <= {"Conv", "Gemm", "MatMul"}
    if name in ZOO:
        params, macs = ZOO[name]
        assert abs(facts["params"] - params) / params < 0.1
        assert abs(facts["flops"] / 2 - macs) / macs < 0.1


def test_digits_onnx_matches_keras_flops(digits_onnx: Path, tmp_path: Path) -> None:
    facts = inspect_model(prepare_upload(digits_onnx, tmp_path))
    assert facts["inputs"][0]["name"] == "image" and facts["inputs"][0]["shape"][1:] == [8, 8, 1]
    assert isinstance(facts["inputs"][0]["shape"][0], (str, type(None)))  # the dynamic batch
    assert facts["info"]["opset"] == 17 and facts["info"]["producer"].startswith("tf2onnx")
    macs = 64 * 16 * 9 * 1 + 64 * 16 * 9 * 16 + 256 * 64 + 64 * 10
    assert facts["flops"] == 2 * macs


def test_onnx_zip_with_external_data_accepted(tmp_path: Path) -> None:
    import onnx

    model = onnx.load(LIGHT / "light_squeezenet.onnx")
    folder = tmp_path / "export"
    folder.mkdir()
    onnx.save(model, folder / "squeeze.onnx", save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    upload = zip_folder(folder, tmp_path / "upload.zip", prefix="export/")
    artifact = prepare_upload(upload, tmp_path / "work")
    assert artifact.path == tmp_path / "work" / "onnx" and artifact.onnx_file.name == "model.onnx"
    assert (artifact.path / "weights.bin").is_file()
    assert inspect_model(artifact)["info"]["n_initializers"] == len(model.graph.initializer)


def test_savedmodel_zip_structure_matches_model(digits_savedmodel: Path, digits_files: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    import keras

    upload = zip_folder(digits_savedmodel, tmp_path / "sm.zip", prefix="digits_sm/")
    artifact = prepare_upload(upload, tmp_path / "work")
    assert artifact.format == "savedmodel" and (artifact.path / "saved_model.pb").is_file()
    facts = inspect_model(artifact)
    assert facts["inputs"] == [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    assert facts["outputs"] == [{"name": "output_0", "shape": [None, 10], "dtype": "float32"}]
    assert facts["params"] == keras.models.load_model(digits_files[0], compile=False).count_params()
    assert facts["info"]["op_histogram"]["Conv2D"] == 2
    assert facts["flops"] == 2 * (64 * 16 * 9 * 1 + 64 * 16 * 9 * 16 + 256 * 64 + 64 * 10)


def test_savedmodel_zip_at_root_accepted(digits_savedmodel: Path, tmp_path: Path) -> None:
    artifact = prepare_upload(zip_folder(digits_savedmodel, tmp_path / "sm.zip"), tmp_path / "work")
    assert artifact.path == tmp_path / "work" / "saved_model"


def test_tflite_structure_read_without_interpreter(digits_tflite: Path, tmp_path: Path) -> None:
    upload = tmp_path / "model.onnx"  # a misleading suffix: content decides
    shutil.copyfile(digits_tflite, upload)
    artifact = prepare_upload(upload, tmp_path / "work")
    assert artifact.format == "tflite" and artifact.path.name == "model.tflite"
    facts = inspect_model(artifact)
    assert facts["inputs"][0]["shape"] == [None, 8, 8, 1] and facts["inputs"][0]["dtype"] == "float32"
    assert facts["outputs"][0]["shape"] == [None, 10]
    assert facts["info"]["op_histogram"]["CONV_2D"] == 2
    assert facts["info"]["op_histogram"]["FULLY_CONNECTED"] == 2
    # BatchNorm is folded into the convolutions: fewer stored numbers than the Keras model's 19,706
    assert 19_000 < facts["params"] <= 19_706
    assert facts["flops"] == 2 * (64 * 16 * 9 * 1 + 64 * 16 * 9 * 16 + 256 * 64 + 64 * 10)


def _conv_onnx(path: Path, height: int | str, width: int | str) -> Path:
    """Conv 3→8 (3×3, pad 1), global average pool, Gemm 8→5 over an NCHW image of ``height``×``width``."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.random((8, 3, 3, 3), dtype=np.float32), "w"),
               numpy_helper.from_array(rng.random((5, 8), dtype=np.float32), "g")]
    nodes = [helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "g"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "open_cnn",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_onnx_open_height_width_counted_at_the_stated_size(tmp_path: Path) -> None:
    """Symbolic H and W are counted at 224×224, as the same graph with 224×224 fixed; before, only the
    Gemm was counted and recorded as the model's FLOPs."""
    open_facts = inspect_model(prepare_upload(_conv_onnx(tmp_path / "open.onnx", "H", "W"), tmp_path / "a"))
    fixed = inspect_model(prepare_upload(_conv_onnx(tmp_path / "fixed.onnx", 224, 224), tmp_path / "b"))
    assert open_facts["inputs"][0]["shape"] == ["N", 3, "H", "W"]
    assert [(d["key"], d["size"]) for d in open_facts["info"]["flops_at"]] == [("H", 224), ("W", 224)]
    assert fixed["flops"] == 2 * (224 * 224 * 8 * 27 + 8 * 5)
    assert open_facts["flops"] == fixed["flops"] and not open_facts["info"]["flops_partial"]
    assert "flops_at" not in fixed["info"] and open_facts["params"] == fixed["params"]
