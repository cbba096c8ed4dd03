"""The review pages on a large family built by the benchmark's own builder (bench/catalogue.py): the lineage
focuses, Compare starts from the root, the champion and the front, and Jobs pages its rows."""
from __future__ import annotations

from bench.catalogue import build
from engine import api
from tests.app.apphelp import by_label


def test_review_pages_hold_a_family_of_120_variants(page, home):
    made = build(home, variants=120, measurements=2_400)
    root = made["root_id"]
    assert api.families()[0]["variants"] == 120
    rows = api.family_overview(root)
    assert len(rows) == 120 and all(r["latency_p50_ms"] is not None and r["accuracy"] is not None for r in rows)
    front = [r["id"] for r in rows if r["pareto"]]
    assert 0 < len(front) < 120

    at = page("models")
    assert any(c.value.endswith("Pick a variant, or search, to move the focus.") for c in at.caption)
    at.text_input(key="lineage_search").input("fp16-7").run()
    assert any("variants match “fp16-7”" in c.value for c in at.caption)

    at.switch_page("app_pages/compare.py").run()
    chosen = by_label(at.multiselect, "Variants").value
    assert chosen[0] == root and set(chosen[1:]) <= set(front) and len(chosen) <= 9
    assert list(at.dataframe[0].value["id"]) == chosen
    assert not at.exception

    at.switch_page("app_pages/jobs.py").run()
    assert by_label(at.number_input, "Page (of 3, 123 jobs)").value == 1  # 119 optimizes, the seed's 4 jobs
    assert len(at.dataframe[0].value) == 50
