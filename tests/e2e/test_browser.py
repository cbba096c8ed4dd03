"""The studio as a user drives it: `trimline up`, a real Chromium, demo → convert → quantize →
benchmark → compare → champion → download, and the downloaded ONNX runs on the digits test set.

Screenshots of every step land in test-artifacts/ (gitignored).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
JOB_TIMEOUT_MS = 150_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`trimline up` exited with {proc.returncode} before the dashboard was healthy")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the dashboard was not healthy within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """(base URL, TRIMLINE_HOME) of a running `trimline up`, stopped with SIGINT to its process group."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    home = tmp_path_factory.mktemp("e2e-home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRIMLINE_PASSWORD", "TRIMLINE_DATABASE_URL", "TRIMLINE_QUEUE_URL")}
    env.update(TRIMLINE_HOME=str(home), ORT_DISABLE_TELEMETRY="1", TF_CPP_MIN_LOG_LEVEL="2")
    SHOTS.mkdir(exist_ok=True)
    log = (SHOTS / "e2e-stack.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "up", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc)
        yield f"http://127.0.0.1:{port}", home
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


class Studio:
    """A thin driver over a Playwright page showing the dashboard."""

    def __init__(self, page, base: str):
        self.page, self.base, self.n = page, base, 0

    def shot(self, name: str, height: int | None = None) -> None:
        """Screenshot the page; ``height`` grows the window for it, since Streamlit scrolls its own main
        block and a full-page shot would stop at the window's edge."""
        self.n += 1
        size = self.page.viewport_size
        if height:
            self.page.set_viewport_size({"width": size["width"], "height": height})
        self.page.wait_for_timeout(400 if not height else 1200)  # let charts finish drawing
        self.page.screenshot(path=str(SHOTS / f"{self.n:02d}-{name}.png"), full_page=True)
        if height:
            self.page.set_viewport_size(size)

    def go(self, title: str) -> None:
        self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        self.page.get_by_role("heading", name=title, exact=True).wait_for()

    def settle(self) -> None:
        """Wait until the script is not running (a rerun closes any open dropdown)."""
        status = self.page.get_by_test_id("stStatusWidget")
        quiet = 0
        for _ in range(100):
            quiet = quiet + 1 if not status.is_visible() else 0
            if quiet >= 3:
                return
            self.page.wait_for_timeout(200)

    def choose(self, label: str, option: str) -> None:
        box = self.page.get_by_test_id("stSelectbox").filter(has=self.page.get_by_text(label, exact=True))
        wanted = self.page.get_by_role("option", name=re.compile(option)).first
        for attempt in range(3):
            self.settle()
            box.click()
            try:
                wanted.click(timeout=5_000)
                break
            except Exception:
                if attempt == 2:
                    raise
                self.page.keyboard.press("Escape")
        self.settle()

    def expect_selected(self, label: str, pattern: str) -> None:
        """The selectbox labelled ``label`` shows a value matching ``pattern`` (waits for reruns)."""
        from playwright.sync_api import expect

        expect(self.page.get_by_role("combobox", name=label, exact=True)).to_have_value(re.compile(pattern))

    def wait_text(self, pattern: str, timeout: int = JOB_TIMEOUT_MS) -> None:
        self.page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout)

    def no_error(self) -> None:
        """No exception box and no traceback on the page."""
        assert self.page.get_by_test_id("stException").count() == 0
        assert "Traceback" not in self.page.inner_text("body")


def _digits_test_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray]:
    from engine import api
    from storage.db import reset_engines

    monkeypatch.setenv("TRIMLINE_HOME", str(home))
    reset_engines()
    try:
        (dataset,) = [d for d in api.list_datasets() if d.role == "evaluation"]  # the held-out test split
        with np.load(api.dataset_path(dataset.id), allow_pickle=False) as data:
            return data["x"], data["y"]
    finally:
        reset_engines()


def test_demo_to_downloaded_quantized_onnx_in_a_browser(stack, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    base, home = stack
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.set_default_timeout(30_000)
            ui = Studio(page, base)
            page.goto(base)
            page.get_by_role("button", name="Load demo").wait_for(timeout=60_000)
            ui.shot("home")

            page.get_by_role("button", name="Load demo").click()
            ui.wait_text(r"demo model #1 and data set #1 are ready")
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

            ui.choose("Champion of this family", r"^#3 ")
            page.get_by_label("Note").fill("int8, accuracy kept")
            page.get_by_role("button", name="Mark as champion").click()
            ui.wait_text(r"Champion: #3 .*“int8, accuracy kept” \(chosen ", timeout=20_000)

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
            page.get_by_text(re.compile(r"^onnx — ")).click()
            page.get_by_role("button", name="Export").click()
            button = page.get_by_role("button", name=re.compile(r"^Download .+\.onnx$"))
            button.wait_for(timeout=JOB_TIMEOUT_MS)
            ui.shot("download")
            with page.expect_download() as info:
                button.click()
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            ui.no_error()

            ui.go("Jobs")
            ui.shot("jobs")
        finally:
            browser.close()

    import onnxruntime as ort

    x, y = _digits_test_set(home, monkeypatch)
    session = ort.InferenceSession(str(saved), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})
    accuracy = float(np.mean(out.argmax(axis=1) == y))
    assert accuracy > 0.9, f"the downloaded quantized ONNX scored {accuracy:.3f} on the digits test set"
