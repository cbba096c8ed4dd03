"""The studio as a user drives it: `trimline up`, a real Chromium, demo → convert → quantize →
benchmark → compare → champion → download, and the downloaded ONNX runs on the digits test set.

Screenshots of every step land in test-artifacts/ (gitignored).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.studio import JOB_TIMEOUT_MS, engine_of, studio_page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _digits_test_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray]:
    from engine import api

    with engine_of(home, monkeypatch):
        (dataset,) = [d for d in api.list_datasets() if d.role == "evaluation"]  # the held-out test split
        with np.load(api.dataset_path(dataset.id), allow_pickle=False) as data:
            return data["x"], data["y"]


def test_demo_to_downloaded_quantized_onnx_in_a_browser(stack, tmp_path, monkeypatch):
    with studio_page(stack) as ui:
        page = ui.page
        page.get_by_role("button", name="Load demo").wait_for(timeout=60_000)
        ui.shot("home")

        ui.load_demo()
        ui.no_error()
        ui.shot("demo-loaded")

        ui.go("Models")
        page.get_by_role("heading", name="#1 digits-cnn (demo)").wait_for()
        ui.shot("models-demo")

        ui.go("Optimize")
        ui.choose("Model", r"^#1 ")
        ui.choose("Pass", r"^tf2onnx")
        page.get_by_role("button", name="Run pass").click()
        ui.wait_text(r"\(optimize\) succeeded: model #2 is ready")
        ui.shot("optimize-tf2onnx")

        ui.choose("Model", r"^#2 ")
        ui.choose("Pass", r"^ort-quantize-dynamic")
        ui.shot("optimize-quantize-form")
        page.get_by_role("button", name="Run pass").click()
        ui.wait_text(r"\(optimize\) succeeded: model #3 is ready")
        ui.no_error()

        page.get_by_role("tab", name="Recipe").click()  # the two passes that made #3, as YAML
        ui.choose("Derived model", r"^#3 ")
        page.get_by_test_id("stCode").filter(has_text="- pass: ort-quantize-dynamic").wait_for()
        assert "- pass: tf2onnx" in page.get_by_test_id("stCode").inner_text()
        ui.shot("optimize-recipe", height=1400)
        page.get_by_role("tab", name="Pass").click()

        page.get_by_role("button", name="Open model #3").click()
        page.get_by_role("heading", name=re.compile(r"^#3 ")).wait_for()
        page.get_by_role("tab", name="Graph").click()
        viewer = page.frame_locator("iframe[src*='/app/static/netron/']")
        viewer.locator("#canvas .node").first.wait_for()
        assert viewer.locator("#canvas .node").count() > 5
        ui.shot("models-graph")

        ui.go("Compare")
        page.get_by_role("button", name=re.compile("^Benchmark them")).click()
        for n in range(3):  # the Keras root, the ONNX child and the quantized grandchild
            page.get_by_text(re.compile(r"\(benchmark\) succeeded")).nth(n).wait_for(timeout=JOB_TIMEOUT_MS)
        # trade-off, latency, roofline per variant, and the chosen variants' op histograms side by side
        page.get_by_test_id("stPlotlyChart").nth(3).wait_for(timeout=JOB_TIMEOUT_MS)
        assert page.get_by_test_id("stPlotlyChart").count() >= 4  # more once the side by side fills in
        ui.no_error()
        ui.shot("compare", height=1900)

        ui.make_champion(3, "int8, accuracy kept")

        # the quantized variant explains itself against its parent, with its per-operator profile
        ui.go("Models")
        ui.choose("Variant", r"^#3 ")
        page.get_by_role("tab", name="Measurements").click()
        ui.wait_text(r"^The child is \d+\.\d\d× (slower than|as fast as) its parent at batch 1, 1 thread",
                     timeout=20_000)
        profile = page.get_by_test_id("stPlotlyChart").filter(has_text="Where the time goes, per operator type")
        profile.wait_for()
        assert profile.is_visible()
        ui.wait_text(r"^Quantized kernels \d+% · \(de\)quantize \d+% · float \d+%", timeout=5_000)
        ui.no_error()
        ui.shot("models-measurements", height=3400)

        ui.go("Download")
        ui.expect_selected("Model", r"^#3 ")  # the champion is pre-selected
        saved = ui.export("onnx", "onnx", tmp_path)

        ui.go("Jobs")
        ui.shot("jobs")

    import onnxruntime as ort

    x, y = _digits_test_set(stack.home, monkeypatch)
    session = ort.InferenceSession(str(saved), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})
    accuracy = float(np.mean(out.argmax(axis=1) == y))
    assert accuracy > 0.9, f"the downloaded quantized ONNX scored {accuracy:.3f} on the digits test set"
