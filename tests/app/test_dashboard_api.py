"""The engine.api functions added for the dashboard (the recipe and benchmark-form ones sit with their pages)."""
from __future__ import annotations

from engine import api
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


def test_get_champion_record_has_the_note_or_is_none(home, imported):
    assert api.get_champion_record(imported) is None
    api.set_champion(imported, "only one")
    record = api.get_champion_record(imported)
    assert (record.root_id, record.model_id, record.note) == (imported, imported, "only one")
    assert record.chosen_at is not None
