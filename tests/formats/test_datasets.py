"""Data set uploads normalised to dataset.npz, read back safely, and matched against a model."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import FormatError, InputError
from engine.formats import check_dataset_for_model, prepare_dataset, read_dataset

IMAGE_IN = [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]
TEN_OUT = [{"name": "output_0", "shape": [None, 10], "dtype": "float32"}]


def test_npz_dataset_normalised_with_meta(digits_files: tuple[Path, Path], tmp_path: Path) -> None:
    path, meta = prepare_dataset(digits_files[1], tmp_path)
    assert path == tmp_path / "dataset.npz"
    assert meta["x_shape"] == [meta["n_samples"], 8, 8, 1] and meta["x_dtype"] == "float32"
    assert meta["has_labels"] and meta["n_classes"] == 10 and meta["source_format"] == "npz"
    arrays = read_dataset(path)
    assert arrays.n_samples == meta["n_samples"] and arrays.y.dtype == np.int64
    check_dataset_for_model(meta, IMAGE_IN, TEN_OUT)
    check_dataset_for_model(arrays, IMAGE_IN, TEN_OUT)


def test_csv_dataset_uses_label_column(tmp_path: Path) -> None:
    src = tmp_path / "upload"
    src.write_text("a,b,species\n1,2,cat\n3,4,dog\n5,6,cat\n")
    _, meta = prepare_dataset(src, tmp_path / "work", label_column="species")
    assert meta["x_shape"] == [3, 2] and meta["classes"] == ["cat", "dog"] and meta["n_classes"] == 2
    arrays = read_dataset(tmp_path / "work" / "dataset.npz")
    assert arrays.y.tolist() == [0, 1, 0]


def test_csv_default_label_column_is_label(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("f1,f2,label\n0.5,1,3\n0.25,2,1\n")
    _, meta = prepare_dataset(src, tmp_path / "work")
    assert meta["label_range"] == [1, 3] and meta["x_shape"] == [2, 2]


def test_csv_refused_when_feature_not_numeric(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("f1,label\nabc,1\n")
    with pytest.raises(FormatError, match=r"row 2 has a non-numeric feature"):
        prepare_dataset(src, tmp_path / "work")


def _png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_zip_resized_to_nhwc_float(tmp_path: Path) -> None:
    src = tmp_path / "images.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("imgs/a.png", _png((255, 0, 0), (20, 10)))
        zf.writestr("imgs/b.png", _png((0, 0, 255), (12, 12)))
        zf.writestr("labels.csv", "filename,label\nimgs/a.png,1\nimgs/b.png,0\n")
    path, meta = prepare_dataset(src, tmp_path / "work", image_size=(8, 8), channels=3)
    assert meta["x_shape"] == [2, 8, 8, 3] and meta["source_format"] == "images"
    x = read_dataset(path).x
    assert x.dtype == np.float32 and x.max() <= 1.0 and x[0, 0, 0, 0] == pytest.approx(1.0)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["dataset.npz"]


def test_dataset_refused_when_layout_is_nchw() -> None:
    meta = {"x_shape": [5, 3, 32, 32], "x_dtype": "float32", "has_labels": False}
    with pytest.raises(InputError, match=r"channels-first \(NCHW.*channels-last \(NHWC"):
        check_dataset_for_model(meta, [{"name": "in", "shape": [None, 32, 32, 3], "dtype": "float32"}], [])


def test_dataset_refused_when_sample_shape_differs() -> None:
    meta = {"x_shape": [5, 28, 28, 1], "x_dtype": "float32", "has_labels": False}
    with pytest.raises(InputError, match=r"shape \[28, 28, 1\] but the model input 'image' expects \[8, 8, 1\]"):
        check_dataset_for_model(meta, IMAGE_IN, TEN_OUT)


def test_dataset_refused_when_labels_exceed_classes() -> None:
    meta = {"x_shape": [5, 8, 8, 1], "x_dtype": "float32", "has_labels": True, "label_range": [0, 11]}
    with pytest.raises(InputError, match=r"labels run from 0 to 11 but the model's output has 10 classes"):
        check_dataset_for_model(meta, IMAGE_IN, TEN_OUT)


def test_dataset_refused_when_float_fed_to_token_ids() -> None:
    meta = {"x_shape": [5, 16], "x_dtype": "float32", "has_labels": False}
    with pytest.raises(InputError, match=r"floating-point values but the model input 'tokens' expects int32"):
        check_dataset_for_model(meta, [{"name": "tokens", "shape": [None, 16], "dtype": "int32"}], [])


def test_dataset_refused_when_model_needs_more_inputs() -> None:
    meta = {"x_shape": [5, 16], "x_dtype": "int32", "has_labels": False}
    inputs = [{"name": "tokens", "shape": [None, 16], "dtype": "int32"},
              {"name": "segments", "shape": [None, 16], "dtype": "int32"}]
    with pytest.raises(InputError, match=r"takes 2 inputs but the data set provides 1"):
        check_dataset_for_model(meta, inputs, [])
