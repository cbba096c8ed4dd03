"""The engine.api functions added for the dashboard (the recipe and benchmark-form ones sit with their pages)."""
from __future__ import annotations

import pytest

from engine import api
from engine.errors import InputError
from tests.app.conftest import run_job


def test_latest_benchmarks_gives_each_models_newest_summary_or_nothing(home, imported):
    from storage import measurements
    from storage.db import session_scope

    assert api.latest_benchmarks([imported]) == {}
    run_job(api.submit_benchmark(imported, {"time_budget_s": 0.1, "profile": False}).id)
    assert api.latest_benchmarks([imported])[imported]["config"]["time_budget_s"] == 0.1
    with session_scope() as s:  # a newer one
        measurements.add_measurement(s, model_id=imported, kind="benchmark", summary={"results": [], "newer": True})
        measurements.add_measurement(s, model_id=imported, kind="evaluate", summary={"metrics": {}})
    latest = api.latest_benchmarks([imported, 999])
    assert list(latest) == [imported] and latest[imported] == {"results": [], "newer": True}


def test_get_champion_has_the_note_or_is_none(home, imported):
    assert api.get_champion(imported) is None
    api.set_champion(imported, "only one")
    record = api.get_champion(imported)
    assert (record.root_id, record.model_id, record.note) == (imported, imported, "only one")
    assert record.chosen_at is not None


@pytest.mark.parametrize(("config", "sentence"), [
    ({"threads": [1, 0]}, "threads must be positive integers, got 0"),
    ({"batches": []}, "the benchmark grid is empty: batches needs at least one value"),
    ({"bogus": 1}, "the benchmark has no setting 'bogus'; its settings are: runtime, batches, threads"),
    ({"warmup": "many"}, "the benchmark setting 'warmup': input should be a valid integer"),
    ({"runtime": "tflite"}, "the tflite runtime cannot run a onnx model"),
])
def test_submit_benchmark_refuses_a_bad_grid_in_one_sentence_before_queueing(home, imported, config, sentence):
    with pytest.raises(InputError) as info:
        api.submit_benchmark(imported, config)
    assert str(info.value).startswith(sentence)
    assert [j.kind for j in api.list_jobs()] == ["import"]


@pytest.mark.parametrize(("recipe", "sentence"), [
    ("steps: [{pass: tf2onnx}]", "recipe step 1: pass 'tf2onnx' accepts keras or savedmodel models, not onnx"),
    ("steps: [{pass: onnx-optimize}, {pass: prune}]", "recipe step 2: pass 'prune' accepts keras models, not onnx"),
    ("steps: [{pass: ort-quantize-static}]", "recipe step 1: pass 'ort-quantize-static' needs a data set"),
])
def test_submit_recipe_checks_the_format_chain_and_data_before_queueing(home, imported, recipe, sentence):
    with pytest.raises(InputError) as info:
        api.submit_recipe(imported, recipe)
    assert str(info.value).startswith(sentence)
    assert [j.kind for j in api.list_jobs()] == ["import"]
