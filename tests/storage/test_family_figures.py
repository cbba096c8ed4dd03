"""Compare's figures: a model is compared by its in-process timing; a load test through the server over HTTP
stands in only for a model that has nothing else."""
from __future__ import annotations

from pathlib import Path

from storage import catalog, family, migrate
from storage import measurements as ms
from storage.db import session_scope


def _bench(p50: float) -> dict:
    return {"results": [{"batch": 1, "threads": 2, "latency_ms": {"p50": p50, "p99": p50 * 2, "ci95_p50": [p50, p50]},
                         "throughput_per_s": 1000 / p50}]}


def test_a_load_test_does_not_replace_a_models_session_benchmark(db_home: Path) -> None:
    migrate.upgrade()
    fields = dict(format="onnx", sha256="0" * 64, artifact="00/x/model.onnx", size_bytes=10)
    with session_scope() as s:
        benchmarked = catalog.add_model(s, name="benchmarked", **fields).id
        served_only = catalog.add_model(s, name="served only", **fields).id
        quiet = catalog.add_model(s, name="never timed", **fields).id
        ms.add_measurement(s, model_id=benchmarked, kind="benchmark", runtime="onnxruntime", summary=_bench(0.02))
        ms.add_measurement(s, model_id=benchmarked, kind="benchmark", runtime="server-http", summary=_bench(0.48))
        ms.add_measurement(s, model_id=served_only, kind="benchmark", runtime="server-http", summary=_bench(0.5))
    with session_scope() as s:
        figures = family.latest_figures(s, "benchmark", [benchmarked, served_only, quiet])
    assert (figures[benchmarked]["runtime"], figures[benchmarked]["p50"]) == ("onnxruntime", 0.02)
    assert (figures[served_only]["runtime"], figures[served_only]["p50"]) == ("server-http", 0.5)
    assert quiet not in figures
    with session_scope() as s:  # a newer session benchmark is still the one shown
        ms.add_measurement(s, model_id=benchmarked, kind="benchmark", runtime="onnxruntime", summary=_bench(0.03))
        assert family.latest_figures(s, "benchmark", [benchmarked])[benchmarked]["p50"] == 0.03
