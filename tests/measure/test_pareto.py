"""The Pareto front pages outline is computed by the engine (``engine.provenance.pareto``; rows carry ``pareto``)."""
from __future__ import annotations

from engine.provenance import pareto as pareto_ids

ROWS = [  # as api.compare builds them
    {"id": 1, "size_bytes": 40_000, "latency_p50_ms": 2.0, "accuracy": 0.95},
    {"id": 2, "size_bytes": 38_000, "latency_p50_ms": 0.5, "accuracy": 0.95},
    {"id": 3, "size_bytes": 12_000, "latency_p50_ms": 0.9, "accuracy": 0.94},
    {"id": 4, "size_bytes": 39_000, "latency_p50_ms": None, "accuracy": None},
]


def test_pareto_ids_keeps_only_undominated_variants():
    # 1 is slower and bigger than 2 at equal accuracy; 3 is smallest; 4 was never timed
    assert pareto_ids(ROWS) == {2, 3}


def test_pareto_ids_ignores_accuracy_unless_every_timed_row_has_it():
    rows = [dict(r, accuracy=None) if r["id"] == 2 else r for r in ROWS]
    assert pareto_ids(rows) == {2, 3}
    assert pareto_ids([]) == set()
