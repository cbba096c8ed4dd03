"""The demo as a reviewer meets it: a held-out test split and a separate calibration split, each with its
role, and a second load reusing the family instead of adding a copy."""
from __future__ import annotations

import pytest

from engine import api

pytestmark = pytest.mark.slow


def test_demo_ships_two_splits_with_roles_and_a_second_load_reuses_the_family(home) -> None:
    first = api.wait_job(api.load_demo().id, timeout_s=600).result
    test_set, train_set = api.get_dataset(first["dataset_id"]), api.get_dataset(first["train_dataset_id"])
    assert (test_set.role, train_set.role) == ("evaluation", "calibration")
    assert test_set.sha256 != train_set.sha256 and train_set.n_samples > test_set.n_samples
    second = api.wait_job(api.load_demo().id, timeout_s=600).result
    assert second["reused"] is True
    assert (second["model_id"], second["dataset_id"]) == (first["model_id"], first["dataset_id"])
    assert [f["id"] for f in api.families()] == [first["model_id"]]
    assert len(api.list_datasets()) == 2
