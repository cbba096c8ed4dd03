"""Recipes: YAML in and out, every step checked against the registry (the format chain and data needs are
checked where a recipe is submitted: tests/app/test_dashboard_api.py)."""
from __future__ import annotations

import pytest

from engine.recipes import Recipe, dump_recipe, load_recipe

TEXT = """
name: mobile-int8
steps:
  - pass: tf2onnx
    config: {opset: 17}
  - pass: onnx-optimize
  - pass: ort-quantize-static
    config: {samples: 50, exclude_ops: [Softmax]}
"""


def test_recipe_round_trips_through_yaml():
    recipe = load_recipe(TEXT)
    assert [s.pass_name for s in recipe.steps] == ["tf2onnx", "onnx-optimize", "ort-quantize-static"]
    assert load_recipe(dump_recipe(recipe)) == recipe
    assert isinstance(recipe, Recipe) and recipe.name == "mobile-int8"


@pytest.mark.parametrize(("text", "sentence"), [
    ("steps: [{pass: tf2onnx}, {pass: shrink}]", "step 2: unknown pass 'shrink'; known passes:"),
    ("steps: [{pass: tf2onnx, config: {opset: abc}}]", "step 1: pass 'tf2onnx' setting 'opset': input should be a valid integer"),
    ("steps: [{pass: tf2onnx, config: {speed: 11}}]", "step 1: pass 'tf2onnx' has no setting 'speed'"),
    ("steps: [{pass: tf2onnx}, {pass: prune, config: {target_sparsity: 1.5}}]",
     "step 2: pass 'prune': target_sparsity must be between 0 and 1 (exclusive), got 1.5"),
    ("steps: [{config: {}}]", "step 1 needs a 'pass' key"),
    ("steps: []", "a recipe needs a 'steps' list with at least one step"),
    ("name: [unclosed", "the recipe is not valid YAML"),
    ("steps: [{pass: tf2onnx, speed: 3}]", "step 1 has unknown keys 'speed'; a step takes pass and config"),
    ("steps: [{pass: tf2onnx, config: [1]}]", "step 1: config must be a mapping of settings"),
    ("author: me\nsteps: [{pass: tf2onnx}]", "the recipe has unknown keys 'author'; it takes name and steps"),
    ("just text", "a recipe needs a 'steps' list with at least one step"),
])
def test_load_recipe_refuses_bad_steps_naming_the_step(text, sentence):
    with pytest.raises(ValueError) as info:
        load_recipe(text)
    assert sentence in str(info.value)
