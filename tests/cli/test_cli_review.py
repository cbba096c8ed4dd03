"""Review verbs through the real entry point: compare as a table and with the Pareto front, report (HTML and
CSV), logs, tag, rename, rm (refusing a parent, collecting an unreferenced file)."""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from tests.app.conftest import write_tiny_onnx
from tests.cli.test_cli import cli, cli_json, refused

pytestmark = pytest.mark.xdist_group("cli")


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A home with the tiny model and its dynamic-quantized child, both benchmarked."""
    folder = tmp_path_factory.mktemp("review")
    home = folder / "home"
    root = cli_json(home, "import", str(write_tiny_onnx(folder / "tiny.onnx")), "--name", "tiny")["id"]
    child = cli_json(home, "optimize", str(root), "ort-quantize-dynamic")["id"]
    for model_id in (root, child):
        cli(home, "benchmark", str(model_id), "--batch", "1", "--threads", "1", "--time-budget", "0.2")
    return home, root, child


def test_compare_prints_a_table_and_marks_the_pareto_front(family) -> None:
    home, root, child = family
    lines = cli(home, "compare", str(root), str(child), "--pareto").stdout.splitlines()
    assert lines[0].split()[:4] == ["id", "variant", "p50", "ms"] and "Pareto" in lines[0]
    rows = {int(line.split()[0]): line for line in lines[2:]}
    assert set(rows) == {root, child} and "{" not in "".join(lines)  # a table, not Python dicts
    doc = cli_json(home, "compare", str(root), str(child), "--pareto")
    assert any(r["pareto"] for r in doc) and [r["id"] for r in doc] == [root, child]


def test_report_writes_offline_html_and_every_measurement_as_csv(family, tmp_path: Path) -> None:
    home, root, child = family
    out = cli_json(home, "report", str(child), "-o", str(tmp_path / "r.html"), "--csv", str(tmp_path / "m.csv"))
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<svg" in html and f"#{child}" in html and "onnxruntime · batch 1 · 1 thread(s)" in html
    assert not re.search(r"<script|src=\"http|href=\"http", html)  # nothing to fetch: it opens offline
    with (tmp_path / "m.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert out["measurements"] == len(rows) == 2
    assert {int(r["model_id"]) for r in rows} == {root, child} and all(float(r["p50_ms"]) > 0 for r in rows)
    assert all(r["cpu"] and r["runtime"] == "onnxruntime" for r in rows)


def test_logs_tag_rename_and_rm_keep_the_catalogue_consistent(family) -> None:
    home, root, child = family
    jobs = cli_json(home, "jobs")
    logged = cli(home, "logs", str(jobs[0]["id"])).stdout
    assert logged.strip() and "has logged nothing" not in logged
    assert refused(home, "logs", "9999") == "error: job 9999 does not exist"
    assert cli_json(home, "tag", str(child), "int8", "candidate")["tags"] == ["candidate", "int8"]
    assert cli_json(home, "tag", str(child), "--remove", "candidate")["tags"] == ["int8"]
    cli(home, "rename", str(child), "tiny int8")
    shown = cli_json(home, "show", str(child))
    assert (shown["name"], shown["tags"]) == ("tiny int8", ["int8"])
    assert "derived model(s); delete or archive those first" in refused(home, "rm", str(root), "--yes")
    artifact = home / "artifacts" / shown["sha256"][:2] / shown["sha256"]
    assert artifact.exists()
    done = cli_json(home, "rm", str(child), "--yes")
    assert done["artifacts_removed"] and not artifact.exists()
    assert [m["id"] for m in cli_json(home, "models")] == [root]
    assert refused(home, "show", str(child)) == f"error: model {child} does not exist"


def test_benchmark_takes_execution_modes_and_reports_process_cpu(family) -> None:
    home, root, _ = family
    doc = cli_json(home, "benchmark", str(root), "--batch", "1", "--threads", "1", "--time-budget", "0.2",
                   "--exec-mode", "sequential,parallel", "--dims", "N=1")
    assert [c["execution_mode"] for c in doc["results"]] == ["sequential", "parallel"]
    cores = os.cpu_count() or 1
    assert all(0 < c["cpu_percent"] <= 100 * cores + 5 and c["peak_rss_mb"] > 0 for c in doc["results"])
    assert "--dims expects name=size" in refused(home, "benchmark", str(root), "--dims", "seq")


def test_champion_for_a_target_machine_names_an_existing_machine(family) -> None:
    home, root, _ = family  # the root: an earlier test of this module deletes the child
    shown = cli_json(home, "show", str(root))
    machine = next(m["hardware_id"] for m in shown["measurements"] if m["kind"] == "benchmark")
    assert refused(home, "champion", str(root), "--machine", "999") == \
        "error: hardware 999 does not exist; pick a machine the family was measured on"
    said = cli(home, "champion", str(root), "--machine", str(machine), "--note", "fastest here").stdout.strip()
    assert said == f"model {root} is now its family's champion on hardware #{machine}"
