"""A family measured on two machines: Compare shows the chosen machine's latencies and its champion, and Download
offers that machine's champion first (also from a shared link)."""
from __future__ import annotations

import copy

from sqlalchemy import select

from engine import api
from tests.app.apphelp import by_label
from tests.app.conftest import run_job

BENCH = {"batches": [1], "threads": [1], "time_budget_s": 0.2}


def _on_an_edge_box(model_ids: list[int], faster: int) -> int:
    """Copy each model's real benchmark to a second machine (the hardware is what tests may stand in for), where
    ``faster`` runs at 0.3× and the others at 1.5× of what they did here. Returns that machine's hardware id."""
    from storage.db import session_scope
    from storage.tables import Hardware, Measurement

    with session_scope() as s:
        edge = Hardware(fingerprint="e" * 64, cpu="ARM Cortex-A76", cores=4, details={"flags": {"neon": True}})
        s.add(edge)
        s.flush()
        for model_id in model_ids:
            seed = s.scalars(select(Measurement).where(Measurement.model_id == model_id, Measurement.kind == "benchmark")
                             .order_by(Measurement.id.desc())).first()
            summary = copy.deepcopy(seed.summary)
            f = 0.3 if model_id == faster else 1.5
            for cell in summary["results"]:
                cell["latency_ms"] = {k: (v * f if isinstance(v, float) else [x * f for x in v] if isinstance(v, list)
                                          else v) for k, v in cell["latency_ms"].items()}
            s.add(Measurement(model_id=model_id, hardware_id=edge.id, kind="benchmark", runtime=seed.runtime,
                              summary=summary, samples={}))
        return edge.id


def test_compare_and_download_decide_per_target_machine(page, imported):
    child = run_job(api.submit_optimize(imported, "ort-quantize-dynamic", {}).job.id).result["model_id"]
    for model_id in (imported, child):
        run_job(api.submit_benchmark(model_id, BENCH).id)
    here = api.family_overview(imported, model_ids=[imported])[0]["hardware_id"]
    edge = _on_an_edge_box([imported, child], faster=child)
    machines = api.family_machines(imported)
    assert {m["id"] for m in machines} == {here, edge} and all(m["benchmarks"] == 2 for m in machines)

    at = page("compare")
    by_label(at.selectbox, "Target machine").set_value(edge).run()
    assert at.query_params["machine"] == str(edge)
    table = at.dataframe[0].value
    on_edge = {r["id"]: r for r in api.family_overview(imported, hardware_id=edge)}
    assert list(table["latency p50 ms"]) == [on_edge[imported]["latency_p50_ms"], on_edge[child]["latency_p50_ms"]]
    assert on_edge[child]["latency_p50_ms"] < on_edge[imported]["latency_p50_ms"]
    assert f"Champion for hardware #{edge}" in [h.value for h in at.subheader]
    by_label(at.selectbox, "Champion on this machine").set_value(child)
    by_label(at.text_input, "Note").input("5× faster on the edge box")
    by_label(at.button, "Mark as champion").click().run()
    assert not at.error, [e.value for e in at.error]
    assert api.get_champion(imported, edge).model_id == child and api.get_champion(imported) is None

    by_label(at.selectbox, "Target machine").set_value(here).run()
    by_label(at.selectbox, "Champion on this machine").set_value(imported)
    by_label(at.text_input, "Note").input("quantizing does not pay here")
    by_label(at.button, "Mark as champion").click().run()
    assert {h: r.model_id for h, r in api.champions_by_hardware(imported).items()} == {edge: child, here: imported}
    promotions = [(e["model_id"], e["hardware_id"]) for e in api.champion_history(imported)]
    assert promotions == [(imported, here), (child, edge)]
    assert api.champion_history(imported)[1]["figures"]["latency_p50_ms"] == on_edge[child]["latency_p50_ms"]

    from streamlit.testing.v1 import AppTest  # a shared link to Download for the edge box

    from tests.app.conftest import APP
    link = AppTest.from_file(str(APP), default_timeout=120)
    link.query_params["machine"] = str(edge)
    link.query_params["family"] = str(imported)
    link.run()
    link.switch_page("app_pages/download.py").run()
    assert by_label(link.selectbox, "Deploying to").value == edge
    assert by_label(link.selectbox, "Model").value == child
    assert any(c.value.startswith(f"★ This is the champion for hardware #{edge} — “5× faster on the edge box”")
               for c in link.caption)
    by_label(link.selectbox, "Deploying to").set_value(here).run()
    assert by_label(link.selectbox, "Model").value == imported
