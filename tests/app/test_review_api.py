"""The review surface on real jobs: provenance on every figure, accuracy kept per data set, a warning when a
variant is evaluated on the data it was calibrated on, champion history, and the graph diff."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine import api
from tests.app.conftest import run_job


def _dataset(home: Path, name: str, labels: bool) -> int:
    x = np.random.default_rng(3).random((48, 4), dtype=np.float32)
    path = home.parent / f"{name}.npz"
    np.savez(path, **({"x": x, "y": (x @ np.arange(12, dtype=np.float32).reshape(4, 3)).argmax(1)} if labels
                      else {"x": x}))
    return run_job(api.submit_dataset_import(path, name=name).id).result["dataset_id"]


def test_overview_keeps_accuracy_per_data_set_flags_calibration_leaks_and_states_provenance(home, imported):
    labelled, unlabelled = _dataset(home, "held", True), _dataset(home, "bare", False)
    child = run_job(api.submit_optimize(imported, "ort-quantize-static", {"samples": 16},
                                        dataset_id=labelled).job.id).result["model_id"]
    for model_id in (imported, child):
        run_job(api.submit_benchmark(model_id, {"batches": [1], "threads": [1], "time_budget_s": 0.2}).id)
        run_job(api.submit_evaluate(model_id, labelled).id)
    run_job(api.submit_evaluate(child, unlabelled).id)  # no labels: must not erase the accuracy on `held`

    assert [d["id"] for d in api.evaluation_datasets(imported)] == [labelled, unlabelled]
    rows = {r["id"]: r for r in api.family_overview(imported, labelled)}
    assert rows[child]["accuracy"] is not None and rows[imported]["accuracy"] is not None
    assert rows[child]["accuracy_provenance"].startswith("on held (#") and " · 48 samples · " in \
        rows[child]["accuracy_provenance"]
    assert rows[child]["latency_provenance"].startswith("onnxruntime · batch 1 · 1 thread(s)")
    assert rows[child]["ratio_basis"] == "like with like" and rows[child]["latency_ratio"] > 0
    assert "calibrated or fine-tuned on data set" in rows[child]["data_warning"]
    assert rows[imported]["data_warning"] is None
    bare = {r["id"]: r for r in api.family_overview(imported, unlabelled)}
    assert bare[child]["accuracy"] is None and bare[child]["eval_samples"] == 48

    api.set_champion(imported, "baseline", who="ana")
    api.set_champion(child, "smaller", who="ben")
    events = api.champion_history(imported)
    assert [(e["action"], e["model_id"], e["who"]) for e in events] == [
        ("promote", child, "ben"), ("demote", imported, "ben"), ("promote", imported, "ana")]
    assert events[0]["figures"]["accuracy"] == rows[child]["accuracy"]

    diff = api.graph_diff(imported, child)
    assert diff["nodes"]["n_replaced"] >= 1 or diff["nodes"]["n_added"] >= 1
    assert any(o["change"] for o in diff["ops"])
