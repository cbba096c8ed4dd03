"""Exports of a served model carry its versions: TF Serving's models.config, Triton's config.pbtxt."""
from __future__ import annotations

import zipfile

import pytest

from engine import api
from engine.errors import InputError
from engine.jobs import service
from tests.serving.triton_schema import parse_config


def test_triton_repository_has_every_version_instances_and_batching(studio, tmp_path):
    _, first, second, _ = studio
    api.serving.plan([first, second], name="exported", labels={"stable": 1, "canary": 2}, settings={
        "instances": 3, "intra_threads": 2,
        "batching": {"enabled": True, "max_batch": 16, "preferred_sizes": [4, 8], "max_queue_delay_ms": 1.5}})
    job = service.wait(api.serving.submit_deployment_export("exported", "triton").id, timeout_s=300)
    with zipfile.ZipFile(api.copy_export(job, tmp_path / "out/")) as zf:
        names = set(zf.namelist())
        config = zf.read("exported/config.pbtxt").decode()
    assert {"exported/1/model.onnx", "exported/2/model.onnx", "exported/config.pbtxt"} <= names
    assert "instance_group [ { count: 3 kind: KIND_CPU } ]" in config
    assert "dynamic_batching {\n  preferred_batch_size: [ 4, 8 ]\n  max_queue_delay_microseconds: 1500\n}" in config
    assert "version_policy: { all: {} }" in config and "max_batch_size: 64" in config
    assert 'value: { string_value: "2" }' in config and "dims: [ 8, 8, 1 ]" in config
    parsed = parse_config(config)  # Triton's own schema reads it
    assert parsed.instance_group[0].count == 3 and list(parsed.dynamic_batching.preferred_batch_size) == [4, 8]
    assert parsed.version_policy.HasField("all") and parsed.parameters["intra_op_thread_count"].string_value == "2"


def test_tfserving_layout_needs_tensorflow_versions(studio):
    _, first, _, _ = studio
    api.serving.plan([first], name="onnx-only")
    with pytest.raises(InputError, match=r"version 1 \(model \d+\): TensorFlow Serving needs a Keras or SavedModel"):
        api.serving.submit_deployment_export("onnx-only", "tfserving")


def test_tfserving_models_config_names_policy_and_labels():
    from engine.serving.layouts import tfserving_models_config

    text = tfserving_models_config("digits", {"kind": "specific", "versions": [1, 3], "n": 1}, {"stable": 1, "canary": 3})
    assert text == ('model_config_list {\n  config {\n    name: "digits"\n    base_path: "/models/digits"\n'
                    "    model_platform: 'tensorflow'\n    model_version_policy { specific { versions: 1 versions: 3 } }\n"
                    '    version_labels { key: "canary" value: 3 }\n    version_labels { key: "stable" value: 1 }\n'
                    "  }\n}\n")
    hostile = tfserving_models_config("d", {"kind": "all", "n": 1}, {"x' }\n  config { name: 'evil": 1})
    assert [line for line in hostile.splitlines() if line.strip().startswith("config")] == ["  config {"]
    assert "key: \"x\\047 }\\012  config { name: \\047evil\" value: 1" in hostile
