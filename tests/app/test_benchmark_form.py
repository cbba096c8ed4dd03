"""The Models page's benchmark form is generated from BenchmarkConfig's JSON schema."""
from __future__ import annotations

from app import forms
from app.model_actions import benchmark_fields
from engine import api
from engine.measure.benchmark import BenchmarkConfig


def test_benchmark_schema_is_the_configs_schema():
    schema = api.benchmark_schema()
    assert schema == BenchmarkConfig.model_json_schema()
    assert {"batches", "threads", "runtime", "opt_levels", "concurrency", "profile", "time_budget_s"} <= \
        set(schema["properties"])


def test_benchmark_runtimes_put_the_formats_own_first():
    assert api.benchmark_runtimes("onnx") == ["onnxruntime"]
    assert api.benchmark_runtimes("keras") == ["tensorflow", "keras-predict"]
    assert api.benchmark_runtimes("tflite") == ["tflite"]


def test_benchmark_fields_for_onnx_default_to_a_valid_config_with_the_profile_on():
    fields = benchmark_fields(api.benchmark_schema(), "onnx", ["onnxruntime"])
    assert [(f.name, f.label, f.widget) for f in fields] == [
        ("batches", "Batch sizes", "list"), ("threads", "Threads", "list"), ("runtime", "Runtime", "select"),
        ("opt_levels", "ORT graph optimization", "multiselect"), ("time_budget_s", "Seconds per configuration", "number"),
        ("concurrency", "Concurrent clients (load test)", "number"), ("profile", "Per-operator profile", "checkbox")]
    by_name = {f.name: f for f in fields}
    assert by_name["runtime"].options == ("onnxruntime",) and not by_name["runtime"].nullable
    assert by_name["opt_levels"].options == ("disable", "basic", "extended", "all")
    assert by_name["concurrency"].minimum == 0 and by_name["concurrency"].integer
    assert by_name["time_budget_s"].help == BenchmarkConfig.model_fields["time_budget_s"].description
    config = forms.to_config(fields, {f.name: f.default for f in fields})
    from engine.measure.hardware import usable_cores

    assert config == {"batches": [1], "threads": [usable_cores()], "runtime": "onnxruntime", "opt_levels": ["all"],
                      "time_budget_s": 2.0, "concurrency": 0, "profile": True}
    assert BenchmarkConfig.model_validate(config).profile is True


def test_benchmark_fields_for_keras_leave_out_onnx_runtime_options():
    fields = benchmark_fields(api.benchmark_schema(), "keras", ["tensorflow", "keras-predict"])
    by_name = {f.name: f for f in fields}
    assert "opt_levels" not in by_name and "profile" not in by_name
    assert by_name["runtime"].options == ("tensorflow", "keras-predict") and by_name["runtime"].default == "tensorflow"
    config = forms.to_config(fields, {f.name: f.default for f in fields} | {"batches": "1, 8", "threads": "2"})
    parsed = BenchmarkConfig.model_validate(config)
    assert (parsed.batches, parsed.threads, parsed.runtime) == ([1, 8], [2], "tensorflow")


def test_models_page_asks_the_sizes_an_input_leaves_open_and_benchmarks_at_them(page, home, tmp_path):
    """A Keras image model saved without an input shape takes any height and width: the form offers a size for
    each open dimension (the benchmark could not be run from the page before), and the job times that size."""
    import onnx
    from onnx import TensorProto, helper

    from tests.app.conftest import run_job
    from tests.app.apphelp import by_label

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "open",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", None, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", None, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "open.onnx"))
    model_id = run_job(api.submit_import(tmp_path / "open.onnx", name="open").id).result["model_id"]
    (dim,) = api.dynamic_dims(api.get_model(model_id).inputs)
    at = page("models", model_id=model_id, family_id=model_id)
    label = f"Input size: x [dimension {dim['position']}]"
    size = by_label(at.number_input, label)
    assert size.value == 128
    size.set_value(16)
    by_label(at.button, "Benchmark").click().run()
    assert not at.error, [e.value for e in at.error]
    job = run_job(at.session_state["model_job"])
    assert job.status == "succeeded", job.error
    assert job.result["config"]["dim_values"] == {dim["key"]: 16}
    # the figures are on a tab above the form: the finished job says where, and one click opens it
    at.run()
    assert not [m for m in at.markdown if m.value.startswith("**Benchmark** ·")]
    by_label(at.button, "See its figures on the Measurements tab").click().run()
    assert at.session_state["tab"] == "Measurements"
    assert [m for m in at.markdown if m.value.startswith("**Benchmark** · onnxruntime")]
    assert not [b for b in at.button if b.label == "See its figures on the Measurements tab"]
