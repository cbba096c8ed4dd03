"""Driving the dashboard in Debian's Chromium: one page on a running studio, and the steps users repeat
(load the demo, choose a champion with a note, export and download).

Screenshots land in test-artifacts/ (gitignored).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
JOB_TIMEOUT_MS = 150_000
PAGE_TIMEOUT_MS = 30_000  # a page element: a rerun on a loaded 2-core machine can take several seconds


class Stack(NamedTuple):
    """A running `trimline up`: where the dashboard answers, and its TRIMLINE_HOME."""

    base: str
    home: Path


@contextmanager
def studio_page(stack: Stack, path: str = "") -> Iterator[Studio]:
    """A Chromium page on ``stack``'s dashboard at ``path`` (a link with its query, or the home page);
    the browser closes when the block ends, whatever happened in it."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # assertions wait as long as the page's own waits
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(stack.base + path)
            yield Studio(page, stack.base)
        finally:
            browser.close()


@contextmanager
def engine_of(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The engine of the studio at ``home``, for a test's own set-up and checks beside the browser."""
    from storage.db import reset_engines

    monkeypatch.setenv("TRIMLINE_HOME", str(home))
    reset_engines()
    try:
        yield
    finally:
        reset_engines()


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

    def enter(self, field, text: str, key: str = "Enter") -> None:
        """Type ``text`` into ``field`` and press ``key``: Streamlit takes a box's value only then (or on blur),
        and the rerun that follows is waited out, so a click after it is not lost."""
        field.fill(text)
        field.press(key)
        self.settle()

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
        """The selectbox labelled ``label`` shows a value matching ``pattern`` (waits for reruns, as long as
        the page's other waits: on a loaded machine the widgets below a heading can take seconds to draw)."""
        from playwright.sync_api import expect

        expect(self.page.get_by_role("combobox", name=label, exact=True)).to_have_value(re.compile(pattern))

    def wait_text(self, pattern: str, timeout: int = JOB_TIMEOUT_MS) -> None:
        self.page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout)

    def no_error(self) -> None:
        """No exception box and no traceback on the page."""
        assert self.page.get_by_test_id("stException").count() == 0
        assert "Traceback" not in self.page.inner_text("body")

    def load_demo(self) -> None:
        """Home → Load demo, until the demo model (#1) and its data are ready."""
        self.page.get_by_role("button", name="Load demo").click(timeout=60_000)
        self.wait_text(r"demo model #1 and data set #1 are ready")

    def make_champion(self, model_id: int, note: str) -> None:
        """On Compare: mark ``model_id`` its family's champion with ``note``, and wait until the page says so."""
        self.choose("Champion of this family", rf"^#{model_id} ")
        self.page.get_by_label("Note").fill(note)
        self.page.get_by_role("button", name="Mark as champion").click()
        self.wait_text(rf"Champion: #{model_id} .*“{re.escape(note)}” \(chosen ", timeout=20_000)

    def export(self, fmt: str, suffix: str, folder: Path) -> Path:
        """On Download: export the selected model as ``fmt`` and save the ``.suffix`` file into ``folder``."""
        self.page.get_by_text(re.compile(rf"^{fmt} — ")).click()
        self.page.get_by_role("button", name="Export").click()
        button = self.page.get_by_role("button", name=re.compile(rf"^Download .+\.{suffix}$"))
        button.wait_for(timeout=JOB_TIMEOUT_MS)
        self.shot(f"download-{fmt}")
        return self.download(button, folder)

    def download(self, button, folder: Path) -> Path:
        """Click a download ``button`` and save what the browser receives into ``folder``; no error shows."""
        with self.page.expect_download() as info:
            button.click()
        saved = folder / info.value.suggested_filename
        info.value.save_as(saved)
        self.no_error()
        return saved
