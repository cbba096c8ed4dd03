"""`auto:` as a recipe's last step: the steps before it run first, then the search starts from their output."""
from __future__ import annotations

import pytest

from engine.recipes import dump_recipe, load_recipe

RECIPE = """name: convert then search
steps:
  - pass: onnx-optimize
    config: {level: basic}
  - auto: {objective: latency, max_accuracy_drop: 0.01, budget: 2m}
"""


def test_an_auto_step_is_read_and_written_back():
    recipe = load_recipe(RECIPE)
    assert [s.pass_name for s in recipe.steps] == ["onnx-optimize"]
    assert recipe.auto == {"objective": "latency", "max_accuracy_drop": 0.01, "budget": "2m"}
    assert load_recipe(dump_recipe(recipe)) == recipe


@pytest.mark.parametrize(("text", "sentence"), [
    ("steps:\n  - auto: {}\n  - pass: fp16\n", "step 1: an auto step searches from what the passes made, so it must come last"),
    ("steps:\n  - auto: {speed: max}\n", "step 1: auto has no setting 'speed'"),
])
def test_misplaced_or_unknown_auto_steps_are_refused(text, sentence):
    with pytest.raises(ValueError, match=sentence):
        load_recipe(text)


def test_a_recipe_ending_in_auto_queues_one_search_with_the_steps_as_its_prefix(home, tmp_path):
    from engine import api
    from tests.app.conftest import run_job, write_tiny_onnx

    model = run_job(api.submit_import(write_tiny_onnx(tmp_path / "t.onnx"), name="tiny").id).result["model_id"]
    job = api.submit_recipe(model, RECIPE)
    assert job.kind == "auto"
    assert [s["pass"] for s in job.params["prefix"]] == ["onnx-optimize"]
    assert job.params["objective"] == "latency" and job.params["budget_s"] == 120
    result = run_job(job.id).result
    reference = next(c for c in result["candidates"] if c["status"] == "reference")
    made = api.get_model(reference["id"])
    assert made.parent_id == model and made.pass_name == "onnx-optimize"
    first = next(c for c in result["candidates"] if c["status"] != "reference" and c["id"] is not None)
    assert api.get_model(first["id"]).parent_id == reference["id"]  # candidates grow from the steps' output
