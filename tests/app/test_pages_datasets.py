"""Data sets page and catalogue hygiene on the Models page, against real imports."""
from __future__ import annotations

import numpy as np

from engine import api
from tests.app.apphelp import by_label
from tests.app.conftest import run_job


def test_datasets_page_lists_sets_and_saves_a_role(page, home, imported):
    x = np.random.default_rng(0).random((20, 4), dtype=np.float32)
    np.savez(home.parent / "held.npz", x=x, y=np.arange(20) % 3)
    dataset = run_job(api.submit_dataset_import(home.parent / "held.npz", name="held").id).result["dataset_id"]
    run_job(api.submit_evaluate(imported, dataset).id)
    at = page("datasets")
    table = at.dataframe[0].value
    assert list(table["name"]) == ["held"] and list(table["samples"]) == [20]
    assert list(table["labels"]) == ["3 classes"] and list(table["evaluated"]) == [f"#{imported}"]
    by_label(at.selectbox, "Used for").set_value("evaluation")
    by_label(at.button, "Save role").click().run()
    assert not at.exception and api.get_dataset(dataset).role == "evaluation"
    assert list(at.dataframe[0].value["role"]) == ["evaluation"]
    at = page("datasets")  # the form starts from the set's role: saving it as it stands keeps the role
    assert by_label(at.selectbox, "Used for").value == "evaluation"
    by_label(at.button, "Save role").click().run()
    assert api.get_dataset(dataset).role == "evaluation"


def test_models_page_renames_tags_and_archives(page, imported):
    at = page("models")
    at.text_input(key=f"name_{imported}").input("tiny v2")
    at.text_input(key=f"tags_{imported}").input("baseline, fp32")
    by_label(at.button, "Save").click().run()
    assert not at.exception
    model = api.get_model(imported)
    assert (model.name, model.tags) == ("tiny v2", ["baseline", "fp32"])
    at.text_input(key="lineage_search").input("fp32").run()
    assert f"1 of 1 variants match “fp32”." in [c.value for c in at.caption]
