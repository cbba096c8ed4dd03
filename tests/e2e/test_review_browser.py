"""The reviewer's path in a real Chromium against `trimline up`, by someone who ran nothing: a shared link to
Compare → where every figure was measured (runtime, machine, data set) → two variants side by side with their
graph diff → an interleaved A/B from the page → the champion with a note → the HTML report downloaded.

Screenshots land in test-artifacts/ (gitignored).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.app.conftest import write_tiny_onnx
from tests.e2e.studio import JOB_TIMEOUT_MS, engine_of, studio_page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _measured_family(home, tmp_path, monkeypatch) -> tuple[int, int]:
    """What an engineer left for the reviewer: the tiny model and its dynamic-INT8 child, both benchmarked and
    evaluated on a held-out set, and a newer family so that the link, not the default, picks this one."""
    from engine import api
    from engine.jobs import service

    def done(job_id: int):  # noqa: ANN202
        return service.wait(job_id, timeout_s=JOB_TIMEOUT_MS / 1000)

    with engine_of(home, monkeypatch):
        root = done(api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx"), name="tiny").id).result["model_id"]
        x = np.random.default_rng(2).random((64, 4), dtype=np.float32)
        np.savez(tmp_path / "held.npz", x=x, y=(x @ np.arange(12, dtype=np.float32).reshape(4, 3)).argmax(1))
        dataset = done(api.submit_dataset_import(tmp_path / "held.npz", name="held-out").id).result["dataset_id"]
        api.set_dataset_role(dataset, "evaluation")
        child = done(api.submit_optimize(root, "ort-quantize-dynamic", {}).job.id).result["model_id"]
        for model_id in (root, child):
            done(api.submit_benchmark(model_id, {"batches": [1], "threads": [1], "time_budget_s": 0.3}).id)
            done(api.submit_evaluate(model_id, dataset).id)
        done(api.submit_import(write_tiny_onnx(tmp_path / "other.onnx", seed=5), name="other").id)
        return root, child


def test_a_reviewer_opens_a_link_compares_times_chooses_and_downloads_the_report(stack, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    root, child = _measured_family(stack.home, tmp_path, monkeypatch)
    with studio_page(stack, f"/compare?family={root}&variants={root}&variants={child}") as ui:  # a colleague's link
        page = ui.page
        page.get_by_role("heading", name="Compare", exact=True).wait_for(timeout=60_000)
        ui.expect_selected("Model family", rf"^#{root} tiny")

        # where every figure comes from: runtime and settings, the machine, the data set and its size
        ui.wait_text(rf"^Latency of #{root}, #{child}: onnxruntime · batch 1 · 1 thread\(s\) · .+ · \d+ cores · ",
                     timeout=20_000)
        ui.wait_text(rf"^Accuracy of #{root}, #{child}: on held-out \(#\d+, evaluation\) · 64 samples · 20\d\d-",
                     timeout=5_000)
        ui.no_error()
        ui.shot("review-link-provenance", height=1600)

        page.get_by_role("heading", name="Side by side").wait_for()
        diff = page.get_by_test_id("stExpander").filter(has_text=f"#{root} → #{child} (ort-quantize-dynamic)")
        expect(diff.get_by_text(re.compile(r"^\d+ node\(s\) replaced .*MatMulInteger"))).to_be_visible()
        diff.scroll_into_view_if_needed()
        ui.shot("review-graph-diff", height=2600)

        page.get_by_role("button", name="Time A against B").click()
        ui.wait_text(rf"(#{child} is (faster|slower) than #{root}: the difference is beyond the noise|no difference "
                     rf"beyond the noise between #{child} and #{root})\. p50 B/A = \d\.\d{{3}} \(95% CI ")
        ui.no_error()
        ui.shot("review-ab", height=2800)

        ui.make_champion(child, "smaller, accuracy kept on held-out")

        page.get_by_role("button", name="Prepare the report").click()
        button = page.get_by_role("button", name="Download report.html")
        button.wait_for(timeout=60_000)
        ui.shot("review-champion-report", height=3200)
        saved = ui.download(button, tmp_path)

    report = saved.read_text()
    assert saved.name == f"trimline-family-{root}.html" and report.lstrip().lower().startswith("<!doctype html")
    assert "smaller, accuracy kept on held-out" in report and "held-out" in report and "onnxruntime" in report
    assert "<svg" in report and "http://" not in report.replace("http://www.w3.org", "")  # opens offline
