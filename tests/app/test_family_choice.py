"""The family a user works in during a session is the one every family page opens on; a fresh session opens on
the newest. Compare and Deploy opened on the newest family after the user had picked a model of another one."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import api
from tests.app.apphelp import by_label
from tests.app.conftest import run_job, write_tiny_onnx


@pytest.fixture()
def newer(imported: int, tmp_path: Path) -> int:
    """A second upload, newer than ``imported``: the family a fresh session opens on."""
    return run_job(api.submit_import(write_tiny_onnx(tmp_path / "newer.onnx", seed=3), name="newer").id
                   ).result["model_id"]


def _family_on(at, name: str) -> int:
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return by_label(at.selectbox, "Model family").value


def test_a_model_picked_on_optimize_makes_its_family_the_one_compare_and_deploy_open_on(page, imported, newer):
    at = page("optimize")
    assert by_label(at.selectbox, "Model").value == newer  # nothing chosen yet: the newest
    by_label(at.selectbox, "Model").set_value(imported).run()
    assert _family_on(at, "compare") == imported
    assert _family_on(at, "deploy") == imported
    assert _family_on(at, "download") == imported
    assert by_label(page("compare").selectbox, "Model family").value == newer  # a fresh session: the newest


def test_the_auto_tabs_model_and_the_models_pages_family_carry_over(page, imported, newer):
    at = page("optimize")
    assert by_label(at.selectbox, "Search from").value == newer
    by_label(at.selectbox, "Search from").set_value(imported).run()
    assert _family_on(at, "deploy") == imported
    assert _family_on(at, "compare") == imported

    at = page("models")
    assert by_label(at.selectbox, "Model family").value == newer
    by_label(at.selectbox, "Model family").set_value(imported).run()
    at.switch_page("app_pages/optimize.py").run()
    assert by_label(at.selectbox, "Search from").value == imported  # a search starts in the family worked in
    assert _family_on(at, "compare") == imported
