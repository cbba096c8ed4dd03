"""Models and Optimize pages against a real imported ONNX model."""
from __future__ import annotations

from engine import api
from tests.app.apphelp import by_label, plotly_count
from tests.app.conftest import run_job


def test_models_page_shows_table_lineage_and_details(page, imported):
    at = page("models")
    assert not at.error
    table = at.dataframe[0].value
    assert list(table["name"]) == ["tiny"] and list(table["format"]) == ["onnx"]
    assert list(table["pass"]) == ["upload"] and list(table["params"]) == [12]
    assert at.subheader[0].value == f"#{imported} tiny"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Format"] == "onnx" and metrics["Parameters"] == "12" and metrics["FLOPs / sample"] == "24"
    assert metrics["Size"] == f"{api.get_model(imported).size_bytes} B"
    io = at.dataframe[1].value
    assert list(io["name"]) == ["x", "y"] and list(io["shape"]) == ["[?, 4]", "[?, 3]"]
    assert plotly_count(at) == 1  # the lineage; closed tabs are not drawn
    assert at.query_params["family"] == str(imported) and at.query_params["model"] == str(imported)
    at.session_state["tab"] = "Operators"
    at.run()
    assert plotly_count(at) == 2  # lineage and operator histogram
    at.session_state["tab"] = "Measurements"
    at.run()
    assert "Not measured yet: benchmark or evaluate it with the buttons below." in [i.value for i in at.info]


def test_models_page_graph_tab_embeds_netron_on_a_signed_link(page, imported):
    from app import auth, netron_view

    at = page("models")
    assert not at.get("iframe")  # the graph tab opens a model file only when it is open
    at.session_state["tab"] = "Graph"
    at.run()
    frames = at.get("iframe")
    assert len(frames) == 1
    url = frames[0].proto.src
    prefix = f"/app/static/netron/index.html?url=/trimline/graph/{imported}/"
    assert url.startswith(prefix) and url.endswith("/model.onnx")
    assert auth.verify(f"graph:{imported}", url[len(prefix):].split("/")[0])  # signed for this model
    assert (netron_view.VIEWER / "index.html").is_file()
    assert not (netron_view.STATIC / "models").exists()  # no copies of models in the code tree


def test_models_page_benchmark_form_submits_the_typed_config(page, imported):
    at = page("models")
    by_label(at.text_input, "Batch sizes").input("1, 4")
    by_label(at.text_input, "Threads").input("1")
    by_label(at.button, "Benchmark").click().run()
    assert not at.error, [e.value for e in at.error]
    job = api.list_jobs()[0]
    assert job.kind == "benchmark" and job.params["model_id"] == imported
    assert job.params["config"]["batches"] == [1, 4] and job.params["config"]["runtime"] == "onnxruntime"
    run_job(job.id)
    at = page("models", tab="Measurements")
    assert plotly_count(at) == 4  # lineage, batch × threads grid, roofline, per-operator profile
    assert job.params["config"]["profile"] is True  # on by default for ONNX: it explains slow variants
    assert "**Benchmark** · onnxruntime" in " ".join(m.value for m in at.markdown)


def test_models_page_bad_benchmark_input_shows_one_sentence(page, imported):
    at = page("models")
    by_label(at.text_input, "Batch sizes").input("0")
    by_label(at.button, "Benchmark").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["batches must be positive integers, got 0"]
    assert [j.kind for j in api.list_jobs()] == ["import"]


def test_models_page_marks_champion_with_note(page, imported):
    at = page("models")
    by_label(at.text_input, "Why this one").input("the only one")
    by_label(at.button, "Mark as champion").click().run()
    assert api.get_champion(imported).model_id == imported
    assert at.subheader[0].value == f"#{imported} tiny ★"
    assert list(at.dataframe[0].value["champion"]) == ["★"]


def test_optimize_page_offers_only_passes_accepting_the_format(page, imported):
    at = page("optimize")
    offered = by_label(at.selectbox, "Pass").options
    accepting = [p["name"] for p in api.list_passes() if "onnx" in p["accepts"]]
    assert [o.split(" — ")[0] for o in offered] == accepting
    assert "tf2onnx" not in " ".join(offered)

def test_an_upload_shows_no_agreement_with_a_parent_it_does_not_have(page, imported):
    """A root model read "Top-1 agreement with parent: —": a line about a parent it cannot have."""
    at = page("models", model_id=imported, family_id=imported)
    assert "Top-1 agreement with parent" not in [m.label for m in at.metric]
    assert len(at.metric) == 4
    child = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    at = page("models", model_id=child, family_id=imported)
    assert by_label(at.metric, "Top-1 agreement with parent")  # a derived model keeps its fidelity line


def test_optimize_page_generated_form_submits_typed_config(page, imported):
    at = page("optimize", pass_name="ort-quantize-dynamic")
    assert at.selectbox(key="cfg:ort-quantize-dynamic:weight_type").options == ["uint8", "int8"]
    at.selectbox(key="cfg:ort-quantize-dynamic:weight_type").set_value("int8")
    at.checkbox(key="cfg:ort-quantize-dynamic:per_channel").check()
    at.text_input(key="cfg:ort-quantize-dynamic:op_types").input("MatMul, Gemm")
    by_label(at.button, "Run pass").click().run()
    assert not at.error, [e.value for e in at.error]
    job = api.list_jobs()[0]
    assert job.kind == "optimize" and job.params["pass"] == "ort-quantize-dynamic"
    from engine.passes import PASSES

    defaults = PASSES["ort-quantize-dynamic"].config().model_dump(mode="json")
    typed = {"weight_type": "int8", "per_channel": True, "op_types": ["MatMul", "Gemm"]}
    assert job.params["config"] == {**defaults, **typed}
    assert at.session_state["optimize_job"] == job.id
    child = run_job(job.id).result["model_id"]
    at.run()
    assert f"Job #{job.id} (optimize) succeeded: model #{child} is ready." in [s.value for s in at.success]


def test_optimize_page_points_to_an_existing_identical_derivation(page, imported):
    first = api.submit_optimize(imported, "ort-quantize-dynamic", {})
    child = run_job(first.job.id).result["model_id"]
    at = page("optimize", pass_name="ort-quantize-dynamic", model_id=imported)
    by_label(at.button, "Run pass").click().run()
    assert f"This exact derivation already exists as model #{child}; nothing was queued." in [i.value for i in at.info]
    assert [j.kind for j in api.list_jobs()] == ["optimize", "import"]
    assert by_label(at.button, f"Open model #{child}")


def test_optimize_page_refuses_a_data_pass_without_data_in_one_sentence(page, imported):
    if "ort-quantize-static" not in [p["name"] for p in api.list_passes()]:
        import pytest

        pytest.skip("ort-quantize-static is not registered")
    at = page("optimize", pass_name="ort-quantize-static")
    by_label(at.button, "Run pass").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["pass 'ort-quantize-static' needs a data set; pass one with --dataset"]


def test_netron_viewer_copy_is_patched_to_stay_offline(page):
    from app import netron_view

    page("home")  # the app installs the viewer at start
    html = (netron_view.VIEWER / "index.html").read_text(encoding="utf-8")
    assert '<meta name="version" content="0.0.0">' in html  # no Google Analytics
    assert '<meta name="date" content="">' in html  # no "please update" lock-out after 180 days
    assert html.index(netron_view.EMBED_SCRIPT) < html.index('src="index.js"')  # consent cookie first
    assert "consent=" in (netron_view.VIEWER / netron_view.EMBED_SCRIPT).read_text()
    assert netron_view.viewer_url("/trimline/graph/1/2.ab/model.onnx") == (
        "/app/static/netron/index.html?url=/trimline/graph/1/2.ab/model.onnx")


def test_a_finished_jobs_message_stays_with_its_model(page, imported, tmp_path):
    from tests.app.conftest import write_tiny_onnx

    other = run_job(api.submit_import(write_tiny_onnx(tmp_path / "other.onnx", seed=2), name="other").id)
    at = page("models", family_id=imported)
    by_label(at.text_input, "Batch sizes").input("1")
    by_label(at.button, "Benchmark").click().run()
    job = api.list_jobs()[0]
    run_job(job.id)
    at.run()
    assert [s.value for s in at.success if s.value.startswith(f"Job #{job.id} (benchmark) succeeded: model #")]
    by_label(at.selectbox, "Model family").set_value(other.result["model_id"]).run()
    assert not any(f"Job #{job.id}" in s.value for s in at.success)
