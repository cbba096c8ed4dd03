"""The Auto search in a real Chromium against `trimline up`, on the demo: goal → live table →
recommendation → make champion → download the bundle, whose deployment settings are the search's.

Screenshots land in test-artifacts/ (gitignored).
"""
from __future__ import annotations

import json
import re
import zipfile

import pytest

from tests.e2e.studio import studio_page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_auto_goal_live_table_recommendation_champion_download_in_a_browser(stack, tmp_path):
    with studio_page(stack) as ui:
        page = ui.page
        ui.load_demo()

        ui.go("Optimize")
        page.get_by_role("tab", name="Auto").click()
        ui.choose("Search from", r"^#1 ")
        ui.choose("Calibration data", r"calibration")
        ui.choose("Held-out data (accuracy)", r"evaluation")
        ui.choose("Runtime", r"^ONNX Runtime only")
        budget = page.get_by_role("textbox", name="Time budget")
        budget.fill("40s")  # small: the test follows the search, it does not wait for a long one
        ui.shot("auto-goal", height=1400)
        page.get_by_role("button", name="Search").click()

        ui.wait_text(r"^Time left$", timeout=60_000)  # the live view: best so far, time left, the table
        ui.wait_text(r"^\d+ s$", timeout=90_000)  # the reference is timed: the clock and the rows appear
        page.get_by_test_id("stDataFrame").first.wait_for()
        ui.no_error()
        ui.shot("auto-live", height=1400)

        ui.wait_text(r"^Recommended: ", timeout=150_000)
        ui.no_error()
        ui.shot("auto-recommendation", height=2200)
        text = page.inner_text("body")
        assert "Deployment settings: runtime onnxruntime, threads" in text
        assert re.search(r"Recommended: .* Measured on .*batch 1, \d+ thread", text)
        assert "Why candidates were rejected" in text or "accepted" in text  # each verdict in full, wrapping

        champion = page.get_by_role("button", name=re.compile(r"^Make model #\d+ the champion$"))
        rec = int(re.search(r"#(\d+)", champion.inner_text()).group(1))
        champion.click()
        ui.wait_text(rf"★ Model #{rec} is its family's champion", timeout=20_000)

        ui.go("Download")
        ui.expect_selected("Model", rf"^#{rec} ")  # the new champion is pre-selected
        saved = ui.export("bundle", "zip", tmp_path)

    with zipfile.ZipFile(saved) as bundle:
        metrics = json.loads(bundle.read(next(n for n in bundle.namelist() if n.endswith("metrics.json"))))
    settings = metrics["deployment"]["settings"]
    assert settings["runtime"] == "onnxruntime" and settings["threads"] >= 1
    assert {"execution_mode", "opt_level"} <= set(settings)
