"""Deploy in a real Chromium against `trimline up`: start serving → try it → load test → stop.

Screenshots land in test-artifacts/ (gitignored).
"""
from __future__ import annotations

import re

import pytest

from tests.app.conftest import write_tiny_onnx
from tests.e2e.studio import engine_of, studio_page
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _import_tiny(home, tmp_path, monkeypatch) -> int:
    from engine import api
    from engine.jobs import service

    with engine_of(home, monkeypatch):
        job = api.submit_import(write_tiny_onnx(tmp_path / "tiny.onnx"), name="tiny")
        return service.wait(job.id, timeout_s=150).result["model_id"]


def test_deploy_start_try_it_load_test_in_a_browser(stack, tmp_path, monkeypatch):
    _import_tiny(stack.home, tmp_path, monkeypatch)
    port = free_port()
    try:
        with studio_page(stack) as ui:
            page = ui.page
            ui.go("Deploy")
            page.get_by_role("heading", name="Serve 'tiny'").wait_for()
            ui.enter(page.get_by_label("Port"), str(port))
            page.get_by_role("button", name="Start serving").click()
            page.get_by_role("heading", name=re.compile(rf"'tiny' · ready at http:..127.0.0.1:{port}")).wait_for(
                timeout=150_000)  # (no '/' in the pattern: Playwright's regex selector cannot hold one)
            ui.no_error()
            ui.shot("deploy-ready", height=1800)

            box = page.get_by_test_id("stTextArea").locator("textarea")
            box.wait_for(timeout=90_000)
            ui.enter(box, "[1, 2, 3, 4]", "Control+Enter")
            page.get_by_role("button", name="Send").click()
            ui.wait_text(r"answered by version 1", timeout=60_000)
            ui.no_error()

            page.get_by_label("Concurrency levels").fill("1,2")
            ui.enter(page.get_by_label("Requests per level (at most)"), "20")
            page.get_by_role("button", name="Run load test").click()
            ui.wait_text(r"Best within p99|No level kept its p99", timeout=120_000)
            ui.no_error()
            ui.shot("deploy-loadtest", height=2600)

            page.get_by_role("button", name="Stop").click()
            ui.wait_text(r"'tiny' · exited", timeout=60_000)
    finally:
        _stop_server(stack.home, monkeypatch)  # the server outlives the page by design; the test stops it


def _stop_server(home, monkeypatch) -> None:
    from engine import api

    with engine_of(home, monkeypatch):
        api.serving.stop_server("tiny")
