"""Recipes on the Optimize page (and the api functions behind them): save a derived model's passes as YAML,
run a recipe on another model."""
from __future__ import annotations

import pytest
import yaml

from engine import api
from engine.errors import InputError
from tests.app.apphelp import by_label
from tests.app.conftest import run_job, write_tiny_onnx


def test_recipe_for_lists_the_passes_from_the_root_and_reads_back(home, imported):
    onnx_passes = [p["name"] for p in api.list_passes() if "onnx" in p["accepts"] and p["produces"] == "onnx"
                   and p["needs"] == "nothing"]
    second_pass = next(n for n in onnx_passes if n != "ort-quantize-dynamic")
    child = run_job(api.submit_optimize(imported, second_pass, {}).job.id).result["model_id"]
    grandchild = run_job(api.submit_optimize(child, "ort-quantize-dynamic", {"per_channel": True}).job.id
                         ).result["model_id"]
    text = api.recipe_for(grandchild)
    assert text.startswith(f"# the passes from model #{imported} (tiny) to model #{grandchild}\n")
    data = yaml.safe_load(text)
    assert data["name"] == f"tiny-to-{grandchild}"
    assert [s["pass"] for s in data["steps"]] == [second_pass, "ort-quantize-dynamic"]
    assert data["steps"][1]["config"] == api.get_model(grandchild).config and data["steps"][1]["config"]["per_channel"]
    # run on the same root it rebuilds the same nodes (content-addressed); on another model, a new chain
    assert run_job(api.submit_recipe(imported, text).id).result["model_ids"] == [child, grandchild]
    with pytest.raises(InputError, match=f"model #{imported} is an upload"):
        api.recipe_for(imported)


def test_recipe_tab_saves_a_derived_models_passes_as_yaml(page, imported):
    child = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    at = page("optimize", model_id=child)
    assert [t.label for t in at.tabs] == ["Pass", "Recipe", "Auto"]
    assert by_label(at.selectbox, "Derived model").value == child
    (code,) = at.code
    assert code.language == "yaml" and code.value == api.recipe_for(child).rstrip("\n")
    assert yaml.safe_load(code.value)["steps"][0]["pass"] == "ort-quantize-dynamic"
    (button,) = at.get("download_button")
    assert button.proto.label == "Download recipe"


def test_recipe_tab_runs_a_pasted_recipe_on_another_model_and_lists_what_it_made(page, imported, tmp_path):
    other = run_job(api.submit_import(write_tiny_onnx(tmp_path / "o.onnx", seed=3), name="other").id).result["model_id"]
    at = page("optimize")
    assert "Derived model" not in [s.label for s in at.selectbox]
    assert "No derived model yet" in " ".join(i.value for i in at.info)
    at.text_area(key="recipe_text").input("name: q\nsteps:\n  - pass: ort-quantize-dynamic\n    config: {weight_type: int8}\n")
    by_label(at.selectbox, "Run it on").set_value(other)
    at.button(key="run_recipe").click().run()
    assert not at.error, [e.value for e in at.error]
    job = api.list_jobs()[0]
    assert job.kind == "recipe" and job.params["model_id"] == other
    assert [s["pass"] for s in job.params["steps"]] == ["ort-quantize-dynamic"]
    assert job.params["steps"][0]["config"]["weight_type"] == "int8"
    made = run_job(job.id).result["model_ids"]
    import streamlit as st

    st.cache_data.clear()  # in the app the polling fragment does this when it sees the job end
    at.run()
    assert f"Job #{job.id} (recipe) succeeded: model #{made[-1]} is ready." in [s.value for s in at.success]
    (table,) = [d.value for d in at.dataframe]
    assert list(table["id"]) == made and list(table["parent"]) == [other]
    assert by_label(at.button, f"Open model #{made[-1]}")


def test_recipe_tab_refuses_bad_yaml_in_one_sentence(page, imported):
    at = page("optimize")
    at.text_area(key="recipe_text").input("steps: [unclosed")
    at.button(key="run_recipe").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("the recipe is not valid YAML (")
    assert [j.kind for j in api.list_jobs()] == ["import"]
    at.text_area(key="recipe_text").input("steps:\n  - pass: no-such-pass\n")
    at.button(key="run_recipe").click().run()
    assert [e.value for e in at.error][0].startswith("step 1: unknown pass 'no-such-pass'; known passes: ")


def test_recipe_tab_runs_an_uploaded_recipe_file(page, imported):
    at = page("optimize")
    uploader = next(u for u in at.get("file_uploader") if u.proto.label == "Recipe file")
    uploader.upload("r.yaml", b"steps:\n  - pass: ort-quantize-dynamic\n").run()
    at.button(key="run_recipe").click().run()
    assert not at.error, [e.value for e in at.error]
    job = api.list_jobs()[0]
    assert job.kind == "recipe" and [s["pass"] for s in job.params["steps"]] == ["ort-quantize-dynamic"]
