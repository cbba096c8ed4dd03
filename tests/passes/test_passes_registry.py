"""validate_request and parse_config: typed configs from --set strings, and one sentence per refusal.
No TensorFlow here: these run in milliseconds."""
from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.passes import PASSES, validate_request

LABELLED = {"has_labels": True, "n_samples": 100, "x_shape": [100, 8, 8, 1]}
UNLABELLED = {"has_labels": False, "n_samples": 100, "x_shape": [100, 8, 8, 1]}


def test_registry_lists_every_pass_with_described_fields():
    assert set(PASSES) == {"tf2onnx", "tflite", "onnx-optimize", "fp16", "ort-quantize-dynamic",
                           "ort-quantize-static", "prune", "cluster", "qat", "distill", "compose", "compose-keras"}
    for spec in PASSES.values():
        schema = spec.describe()["config_schema"]
        for name, field in schema["properties"].items():
            assert field.get("description"), f"{spec.name}.{name} has no description"


def test_validate_request_coerces_set_strings():
    config = validate_request("tf2onnx", {"opset": "13", "dynamic_batch": "false"}, "keras", None)
    assert config.opset == 13 and config.dynamic_batch is False
    config = validate_request("ort-quantize-static", {"exclude_ops": "Softmax, Add", "samples": "8"}, "onnx",
                              UNLABELLED)
    assert config.exclude_ops == ["Softmax", "Add"] and config.samples == 8


@pytest.mark.parametrize(("name", "raw", "fmt", "dataset", "sentence"), [
    ("nope", {}, "keras", None, "unknown pass 'nope'; known passes: cluster, compose, compose-keras, distill"),
    ("prune", {}, "onnx", LABELLED, "pass 'prune' accepts keras models, not onnx"),
    ("tf2onnx", {}, "onnx", None, "pass 'tf2onnx' accepts keras or savedmodel models, not onnx"),
    ("ort-quantize-static", {}, "onnx", None, "pass 'ort-quantize-static' needs a data set"),
    ("tflite", {"quantization": "int8"}, "keras", None, "pass 'tflite' needs a data set"),
    ("prune", {}, "keras", None, "pass 'prune' needs a labelled data set"),
    ("prune", {}, "keras", UNLABELLED, "needs labels; the data set has no y"),
    ("tf2onnx", {"colour": "red"}, "keras", None, "pass 'tf2onnx' has no setting 'colour'"),
    ("tf2onnx", {"opset": "seventeen"}, "keras", None, "setting 'opset': input should be a valid integer"),
    ("tf2onnx", {"opset": "99"}, "keras", None, "setting 'opset': input should be less than or equal to 21"),
    ("prune", {"target_sparsity": "1.5"}, "keras", LABELLED,
     "target_sparsity must be between 0 and 1 (exclusive), got 1.5"),
    ("ort-quantize-dynamic", {"weight_type": "int4"}, "onnx", None, "input should be 'uint8' or 'int8'"),
    ("ort-quantize-static", {"activation_type": "int8", "weight_type": "uint8"}, "onnx", UNLABELLED,
     "int8 activations with uint8 weights are not supported"),
    ("onnx-optimize", {"passes": "eliminate_identity,make_it_fast"}, "onnx", None,
     "unknown onnxoptimizer pass 'make_it_fast'"),
    ("distill", {"width_factor": "0.5", "student": "3"}, "keras", UNLABELLED,
     "set either width_factor or student, not both"),
])
def test_validate_request_refuses_with_one_sentence(name, raw, fmt, dataset, sentence):
    with pytest.raises(InputError, match=None) as info:
        validate_request(name, raw, fmt, dataset)
    assert sentence in str(info.value)
    assert "\n" not in str(info.value)


def test_validate_request_accepts_tflite_without_data_unless_int8():
    assert validate_request("tflite", {"quantization": "float16"}, "keras", None).quantization == "float16"
