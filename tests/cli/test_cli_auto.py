"""`trimline auto` end to end on the digits CNN: the contract, honest verdicts, reuse, bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_cli import cli, cli_json, refused

pytestmark = pytest.mark.xdist_group("cli")

STATUSES = {"reference", "recommended", "accepted", "rejected", "failed", "skipped"}


@pytest.fixture(scope="module")
def digits_home(tmp_path_factory: pytest.TempPathFactory, digits_onnx: Path,
                digits_files: tuple[Path, Path]) -> tuple[Path, int, int, int]:
    """(home, ONNX digits model id, calibration set id, held-out labelled set id), shared by this module."""
    tmp_path = tmp_path_factory.mktemp("auto")
    home = tmp_path / "home"
    data = np.load(digits_files[1])
    np.savez(tmp_path / "calib.npz", x=data["x"][:200], y=data["y"][:200])
    np.savez(tmp_path / "held_out.npz", x=data["x"][200:], y=data["y"][200:])
    model = cli_json(home, "import", str(digits_onnx))["id"]
    calib = cli_json(home, "dataset", "import", str(tmp_path / "calib.npz"))["id"]
    held = cli_json(home, "dataset", "import", str(tmp_path / "held_out.npz"))["id"]
    return home, model, calib, held


def _search(home: Path, model: int, *extra: str) -> dict:
    return cli_json(home, "auto", str(model), "--budget", "2m", "--target", "onnxruntime", *extra)


def test_auto_recommends_only_a_faster_candidate_within_budget_and_reuses_nodes(digits_home) -> None:
    home, model, calib, held = digits_home
    out = _search(home, model, "--dataset", str(calib), "--eval-dataset", str(held), "--max-accuracy-drop", "0.01")
    assert {"recommended", "parent", "candidates", "pareto"} <= set(out)
    assert out["parent"] == model
    rows = out["candidates"]
    assert {"id", "recipe", "status", "p50_ms", "accuracy", "reason"} <= set(rows[0])
    assert {r["status"] for r in rows} <= STATUSES
    reference = next(r for r in rows if r["status"] == "reference")
    assert reference["id"] == model and reference["accuracy"] > 0.9
    statics = [r for r in rows if r["recipe"] and r["recipe"][-1]["pass"] == "ort-quantize-static"
               and r["status"] != "skipped"]
    assert all(r["reason"].startswith("skipped: ") for r in rows if r["status"] == "skipped")
    assert statics and all(r["status"] != "failed" for r in statics), [r["reason"] for r in statics]
    assert all(r["id"] is not None and r["p50_ms"] > 0 and r["accuracy"] > 0.8 for r in statics)
    assert all(0 < r["size_gzip_bytes"] < r["size_bytes"] for r in statics)  # what a bundle ships, compressed
    for r in rows:
        if r["status"] in ("rejected", "failed"):
            assert r["reason"], r
        if r["status"] == "accepted" or r["status"] == "recommended":
            assert reference["accuracy"] - r["accuracy"] <= 0.01 + 1e-9
    chosen = [r for r in rows if r["status"] == "recommended"]
    if out["recommended"] == model:
        assert not chosen and "parent" in out["explanation"]
    else:
        (best,) = chosen
        assert best["id"] == out["recommended"] and best["ratio_ci95"][1] < 1
        assert "beyond the noise" in out["explanation"]
    ids = {r["id"] for r in rows if r["id"] is not None}
    assert set(out["pareto"]) <= ids and out["pareto"]
    assert out["settings"]["threads"] >= 1 and out["settings"]["runtime"] == "onnxruntime" or out["recommended"] != model

    trials = [r for r in rows if r["session_trial"]]  # session settings, tried on the recommendation
    assert trials and all(r["id"] == out["recommended"] and r["reason"].startswith(("session setting", "skipped: "))
                      for r in trials)
    parallel = [r for r in trials if r["settings"]["execution_mode"] == "parallel"]
    assert len(parallel) == (1 if out["settings"]["threads"] >= 2 else 0)  # the digits CNN is one chain of work:
    assert all(r["status"] == "skipped" and "form one chain" in r["reason"] for r in parallel)  # nothing to overlap
    won = [r for r in trials if r["status"] == "accepted"]
    assert {"execution_mode", "opt_level"} <= set(out["settings"])
    if won:
        assert out["settings"] in [r["settings"] for r in won]
    else:
        assert (out["settings"]["execution_mode"], out["settings"]["opt_level"]) == ("sequential", "all")

    bundle = cli_json(home, "export", str(out["recommended"]), "--format", "bundle", "-o", str(home.parent / "b") + "/")
    import json
    import zipfile

    path = Path(bundle["path"])
    if path.is_dir():
        manifest = json.loads(next(path.rglob("metrics.json")).read_text())
        readme = next(path.rglob("README.md")).read_text()
    else:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read(next(n for n in z.namelist() if n.endswith("metrics.json"))))
            readme = z.read(next(n for n in z.namelist() if n.endswith("README.md"))).decode()
    assert manifest["deployment"]["settings"] == out["settings"]
    # the bundle carries the latency the search timed the recommendation at, and says where it came from
    timed = next(r for r in rows if r["id"] == out["recommended"] and not r["session_trial"])
    assert manifest["benchmark"]["source"] == "auto"
    assert manifest["benchmark"]["results"][0]["latency_ms"]["p50"] == pytest.approx(timed["p50_ms"], rel=1e-12)
    assert f"| {timed['p50_ms']:.3f} |" in readme and "Timed by the search (job #" in readme
    compared = cli_json(home, "compare", str(model), str(out["recommended"]))
    assert all(r["latency_p50_ms"] is not None and r["latency_source"].startswith("timed by the search (job #")
               for r in compared), compared

    before = len(cli_json(home, "models"))
    again = _search(home, model, "--dataset", str(calib), "--eval-dataset", str(held), "--max-accuracy-drop", "0.01")
    assert len(cli_json(home, "models")) == before  # every candidate was found by its derivation key
    built = {tuple(map(str, r["recipe"])): r["id"] for r in rows if r["id"] is not None}
    assert all(built.get(tuple(map(str, r["recipe"]))) == r["id"] for r in again["candidates"] if r["id"] is not None)


def test_auto_without_data_runs_what_needs_none_and_says_what_data_would_add(digits_home) -> None:
    home, model, _, _ = digits_home
    out = _search(home, model)
    passes = {step["pass"] for r in out["candidates"] for step in r["recipe"]}
    assert "ort-quantize-static" not in passes and {"onnx-optimize", "ort-quantize-dynamic"} <= passes
    assert not [r["reason"] for r in out["candidates"] if r["status"] == "failed"]
    assert any("A data set would add static INT8" in note for note in out["notes"])


def test_auto_refuses_an_unknown_objective_before_queueing(digits_home) -> None:
    home, model, _, _ = digits_home
    assert "unknown objective 'speed'; choose latency, throughput or size" in refused(
        home, "auto", str(model), "--objective", "speed")
