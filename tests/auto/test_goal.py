"""A search's goal is checked before anything is queued; verdicts and the Pareto front follow the numbers."""
from __future__ import annotations

import pytest

from engine.auto import judge
from engine.auto.params import AutoParams, Candidate, parse_budget
from engine.errors import InputError


@pytest.mark.parametrize(("kwargs", "sentence"), [
    ({"objective": "speed"}, "unknown objective 'speed'; choose latency, throughput or size"),
    ({"target": "gpu"}, "unknown target 'gpu'; choose cpu, onnxruntime, tflite"),
    ({"budget": "soon"}, "budget 'soon' is not a duration; write it like 90s, 10m or 1h"),
    ({"budget": "3s"}, "a budget of 3 s is too short"),
])
def test_bad_goals_get_one_sentence_before_any_lookup(home, kwargs, sentence):
    from engine import api

    with pytest.raises(InputError, match=sentence):
        api.submit_auto(model_id=999, **kwargs)
    assert api.list_jobs() == []


def test_budgets_read_like_durations_and_one_accuracy_budget_at_most():
    assert parse_budget("90s") == 90 and parse_budget("10m") == 600 and parse_budget("1h") == 3600
    with pytest.raises(ValueError, match="either --max-accuracy-drop or --min-fidelity"):
        AutoParams(model_id=1, max_accuracy_drop=0.01, min_fidelity=0.99)


def _c(label, p50, size, acc, status="accepted", ratio=None, ci=None):
    return Candidate(label=label, p50_ms=p50, size_bytes=size, accuracy=acc, status=status, ratio=ratio,
                     ratio_ci95=ci)


def test_accuracy_verdict_names_the_drop_and_the_budget():
    c = _c("int8", 1.0, 10, 0.95)
    assert judge.accuracy_verdict(c, ("drop", 0.01), 0.973) == "accuracy −2.3 points > budget 1 points"
    assert judge.accuracy_verdict(c, ("drop", 0.05), 0.973) is None
    c.agreement = 0.97
    assert judge.accuracy_verdict(c, ("fidelity", 0.99), None) == "top-1 agreement with the parent 97.0% < 99.0%"


def test_speed_reason_separates_slower_from_not_faster():
    assert "slower beyond the noise" in judge.speed_reason(_c("dynamic INT8", 1, 1, 1, ratio=1.3, ci=[1.25, 1.35]))
    assert "not faster beyond the noise" in judge.speed_reason(_c("x", 1, 1, 1, ratio=0.99, ci=[0.95, 1.02]))
    assert judge.speed_reason(_c("x", 1, 1, 1, ratio=0.5, ci=[0.45, 0.55])) == ""


def test_a_ratio_within_the_noise_floor_is_no_faster_never_slower_or_faster():
    basic = _c("graph-optimized (basic)", 1, 1, 1, ratio=1.02, ci=[1.01, 1.03])  # narrow CI, 2% apart
    assert not judge.slower(basic) and not judge.faster(basic)
    assert "no faster, within the noise" in judge.speed_reason(basic)
    assert not judge.faster(_c("x", 1, 1, 1, ratio=0.985, ci=[0.98, 0.99]))
    assert judge.faster(_c("x", 1, 1, 1, ratio=0.9, ci=[0.88, 0.92]))
    assert judge.slower(_c("x", 1, 1, 1, ratio=1.05, ci=[1.04, 1.06]))


def test_pareto_front_keeps_only_undominated_candidates():
    fast, small, both_worse, accurate = (_c("fast", 1.0, 100, 0.9), _c("small", 2.0, 10, 0.9),
                                         _c("worse", 2.5, 120, 0.85), _c("accurate", 3.0, 200, 0.99))
    assert [c.label for c in judge.pareto([fast, small, both_worse, accurate])] == ["fast", "small", "accurate"]


def test_budget_defaults_to_one_point_with_labels_and_fidelity_without():
    p = AutoParams(model_id=1)
    assert judge.accuracy_budget(p, has_labels=True, has_eval=True) == ("drop", 0.01)
    assert judge.accuracy_budget(p, has_labels=False, has_eval=True) == ("fidelity", 0.99)
    assert judge.accuracy_budget(p, has_labels=False, has_eval=False) is None
