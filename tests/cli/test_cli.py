"""The CLI contract (DESIGN.md) through the real `trimline` entry point, on an empty TRIMLINE_HOME."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.xdist_group("cli")

TRIMLINE = shutil.which("trimline", path=str(Path(__file__).resolve().parents[2] / ".venv" / "bin")) or "trimline"
MODEL_KEYS = {"id", "name", "format", "inputs", "outputs", "params", "flops", "size_bytes", "sha256"}


def cli(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRIMLINE_HOME": str(home)}
    env.pop("TRIMLINE_DATABASE_URL", None)
    proc = subprocess.run([TRIMLINE, *args], env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert proc.returncode == 0, f"trimline {' '.join(args)} failed: {proc.stderr[-2000:]}"
    return proc


def cli_json(home: Path, *args: str):  # noqa: ANN201
    return json.loads(cli(home, *args, "--json").stdout)


def refused(home: Path, *args: str) -> str:
    proc = cli(home, *args, ok=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[-1]


@pytest.fixture()
def cli_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_doctor_reports_versions_flags_and_checks(cli_home: Path) -> None:
    report = cli_json(cli_home, "doctor")
    assert report["ok"] is True
    names = {c["name"] for c in report["checks"]}
    assert {"onnxruntime", "tensorflow", "database"} <= names
    assert report["hardware"]["cores"]
    from engine.serving.memory import default_limit_mb

    memory = next(c["detail"] for c in report["checks"] if c["name"] == "serving memory")
    assert memory.startswith(f"each server keeps to {default_limit_mb()} MB (half of this machine's ")


def test_passes_lists_each_pass_with_formats_and_config_schema(cli_home: Path) -> None:
    passes = {p["name"]: p for p in cli_json(cli_home, "passes")}
    assert {"tf2onnx", "ort-quantize-dynamic"} <= set(passes)
    assert passes["tf2onnx"]["accepts"] == ["keras", "savedmodel"] and passes["tf2onnx"]["produces"] == "onnx"
    assert "opset" in passes["tf2onnx"]["config_schema"]["properties"]


def test_passes_plain_output_shows_every_setting(cli_home: Path) -> None:
    text = cli(cli_home, "passes").stdout
    for setting in ("activation_type=<uint8|int8> = 'uint8'", "weight_type=<auto|uint8|int8> = 'auto'",
                    "preprocess=<boolean> = True", "level=<basic|extended|all> = 'basic'", "auto_block=<boolean>"):
        assert f"--set {setting}" in text, setting


@pytest.mark.parametrize("args, sentence", [
    (("import", "/nonexistent/model.onnx"), "no such file"),
    (("show", "42"), "model 42 does not exist"),
    (("optimize", "42", "tf2onnx"), "model 42 does not exist"),
    (("cancel", "42"), "job 42 does not exist"),
    (("export", "42", "--format", "onnx", "-o", "x.onnx"), "model 42 does not exist"),
])
def test_bad_input_gets_one_sentence_and_a_nonzero_exit(cli_home: Path, args, sentence: str) -> None:  # noqa: ANN001
    assert sentence in refused(cli_home, *args)


def test_a_file_that_is_not_a_model_is_refused_and_nothing_is_stored(cli_home: Path, tmp_path: Path) -> None:
    junk = tmp_path / "notes.onnx"
    junk.write_text("these are my notes, not a model\n" * 10)
    message = refused(cli_home, "import", str(junk))
    assert "the file is text, not a model" in message
    assert cli_json(cli_home, "models") == []
    jobs = cli_json(cli_home, "jobs")
    assert jobs[0]["status"] == "failed" and jobs[0]["error"] in message


def test_keras_to_quantized_onnx_measured_compared_and_exported(cli_home: Path, tmp_path: Path,
                                                                digits_files: tuple[Path, Path]) -> None:
    keras_file, data_file = digits_files
    root = cli_json(cli_home, "import", str(keras_file), "--name", "digits")
    assert MODEL_KEYS <= set(root)
    assert root["format"] == "keras" and root["inputs"][0]["shape"][1:] == [8, 8, 1]
    dataset = cli_json(cli_home, "dataset", "import", str(data_file))
    assert {"id", "name", "n_samples", "x_shape", "has_labels"} <= set(dataset) and dataset["has_labels"]

    onnx_model = cli_json(cli_home, "optimize", str(root["id"]), "tf2onnx", "--set", "opset=17")
    assert MODEL_KEYS | {"parent_id", "pass", "config"} <= set(onnx_model)
    assert onnx_model["parent_id"] == root["id"] and onnx_model["pass"] == "tf2onnx"
    assert onnx_model["config"]["opset"] == 17 and onnx_model["format"] == "onnx"

    # wrong type and unknown key: refused before anything is queued
    jobs_before = len(cli_json(cli_home, "jobs"))
    assert "opset" in refused(cli_home, "optimize", str(root["id"]), "tf2onnx", "--set", "opset=seventeen")
    assert "colour" in refused(cli_home, "optimize", str(root["id"]), "tf2onnx", "--set", "colour=red")
    assert "unknown pass" in refused(cli_home, "optimize", str(root["id"]), "make-it-fast")
    assert len(cli_json(cli_home, "jobs")) == jobs_before

    quantized = cli_json(cli_home, "optimize", str(onnx_model["id"]), "ort-quantize-dynamic")
    assert quantized["parent_id"] == onnx_model["id"]
    again = cli_json(cli_home, "optimize", str(onnx_model["id"]), "ort-quantize-dynamic")
    assert again["id"] == quantized["id"], "the same pass and config on the same parent is one node"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: int8\nsteps:\n  - pass: tf2onnx\n    config: {opset: 17}\n"
                      "  - pass: ort-quantize-dynamic\n  - pass: onnx-optimize\n")
    chain = cli_json(cli_home, "recipe", "run", str(root["id"]), str(recipe), "--dataset", str(dataset["id"]))
    assert [m["id"] for m in chain[:2]] == [onnx_model["id"], quantized["id"]], "existing steps are reused"
    assert chain[2]["pass"] == "onnx-optimize" and chain[2]["parent_id"] == quantized["id"]
    assert "already quantized" in refused(cli_home, "optimize", str(quantized["id"]), "fp16")
    recipe.write_text("steps:\n  - pass: ort-quantize-dynamic\n")
    assert "recipe step 1" in refused(cli_home, "recipe", "run", str(root["id"]), str(recipe))

    parent_bench = cli_json(cli_home, "benchmark", str(onnx_model["id"]), "--threads", "1", "--time-budget", "0.3")
    assert parent_bench["explanations"] == [] and parent_bench["results"][0]["batch"] == 1
    bench = cli_json(cli_home, "benchmark", str(quantized["id"]), "--batch", "1,4", "--threads", "1",
                     "--time-budget", "0.3")
    assert bench["compared_with"]["model_id"] == onnx_model["id"]
    assert bench["explanations"] and "parent" in bench["explanations"][0]
    assert bench["profile"]["top_ops"], "ONNX benchmarks carry a per-operator profile by default"
    assert all(r["achieved_gflops"] > 0 for r in bench["roofline"])
    assert bench["model_id"] == quantized["id"] and bench["runtime"] == "onnxruntime"
    assert {"cpu", "cores"} <= set(bench["hardware"])
    cells = {(r["batch"], r["threads"]) for r in bench["results"]}
    assert cells == {(1, 1), (4, 1)}
    for r in bench["results"]:
        lat = r["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
        assert {"mean", "std"} <= set(lat) and r["throughput_per_s"] > 0 and r["peak_rss_mb"] > 0

    evaluation = cli_json(cli_home, "evaluate", str(quantized["id"]), "--dataset", str(dataset["id"]))
    assert evaluation["model_id"] == quantized["id"] and evaluation["dataset_id"] == dataset["id"]
    assert evaluation["metrics"]["accuracy"] > 0.85
    assert evaluation["fidelity"]["agreement"] > 0.9 and evaluation["fidelity"]["max_abs_diff"] >= 0

    rows = cli_json(cli_home, "compare", str(onnx_model["id"]), str(quantized["id"]))
    assert [r["id"] for r in rows] == [onnx_model["id"], quantized["id"]]
    assert rows[0]["delta"]["size_bytes"] == 1.0 and rows[1]["delta"]["size_bytes"] < 0.6

    ab = cli_json(cli_home, "compare", str(onnx_model["id"]), str(quantized["id"]), "--interleaved")
    lo, hi = ab["ratio_ci95"]
    assert lo <= ab["ratio_b_over_a"] <= hi and isinstance(ab["significant"], bool) and ab["pairs"] >= 30
    assert ab["significant"] == (lo > 1 or hi < 1)
    assert "times ONNX models" in refused(cli_home, "compare", str(root["id"]), str(quantized["id"]),
                                          "--interleaved")

    shown = cli_json(cli_home, "show", str(onnx_model["id"]))
    assert shown["children"] == [quantized["id"]] and shown["parent_id"] == root["id"]

    out = tmp_path / "out" / "digits-int8.onnx"
    exported = cli_json(cli_home, "export", str(quantized["id"]), "--format", "onnx", "-o", str(out))
    assert exported["path"] == str(out) and exported["sha256"] == quantized["sha256"]
    import onnxruntime as ort

    x = np.load(data_file)["x"][:5]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    probs = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert probs.shape == (5, 10)
    message = refused(cli_home, "export", str(root["id"]), "--format", "tflite", "-o", str(tmp_path / "x"))
    assert f"trimline optimize {root['id']} tflite" in message


def test_image_zip_is_laid_out_for_an_nchw_zoo_model_and_evaluated(cli_home: Path, tmp_path: Path) -> None:
    import io
    import zipfile

    import onnx
    from PIL import Image

    zoo = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_squeezenet.onnx"
    model = cli_json(cli_home, "import", str(zoo))
    assert model["inputs"][0]["shape"] == [1, 3, 224, 224] and model["info"]["opset"] == 9
    images = tmp_path / "images.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(images, "w") as zf:
        rows = ["filename,label"]
        for i in range(4):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(buffer, "PNG")
            zf.writestr(f"img{i}.png", buffer.getvalue())
            rows.append(f"img{i}.png,{i % 2}")
        zf.writestr("labels.csv", "\n".join(rows) + "\n")
    dataset = cli_json(cli_home, "dataset", "import", str(images), "--for-model", str(model["id"]))
    assert dataset["x_shape"] == [4, 3, 224, 224] and dataset["has_labels"]
    evaluation = cli_json(cli_home, "evaluate", str(model["id"]), "--dataset", str(dataset["id"]))
    assert evaluation["metrics"]["accuracy"] is not None and evaluation["fidelity"] is None
    quantized = cli_json(cli_home, "optimize", str(model["id"]), "ort-quantize-static", "--dataset",
                         str(dataset["id"]), "--set", "samples=4")
    assert quantized["metrics"]["op_counts"].get("QLinearConv", 0) > 0


def test_up_refuses_to_serve_beyond_this_machine_without_a_login(cli_home: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("TRIMLINE_PASSWORD", raising=False)
    message = refused(cli_home, "up", "--host", "0.0.0.0", "--port", "8597")
    assert "refusing to serve on 0.0.0.0 without a login; set TRIMLINE_PASSWORD" in message
    assert not (cli_home / "trimline.db").exists(), "nothing started, nothing created"
