"""Time every pass on MobileNetV2 at 224×224 (weights=None) and print a table.

    .venv/bin/python bench/passes_bench.py [--samples 64] [--epochs 1]

Fine-tuning passes (prune, cluster, qat, distill) run on a small random-labelled set: the numbers say
what the passes cost, not what accuracy they keep (random weights have none to keep).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64, help="rows in the random data set")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    import keras
    import numpy as np

    from engine.artifact import Artifact
    from engine.measure.hardware import isa_flags
    from engine.passes.gate import run_pass
    from engine.passes import PASSES
    from engine.formats.datasets import DatasetArrays
    from engine.passes.base import PassContext

    root = Path(tempfile.mkdtemp(prefix="passes-bench-"))
    keras.utils.set_random_seed(0)
    model_path = root / "mobilenetv2.keras"
    keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3)).save(model_path)
    rng = np.random.default_rng(0)
    data = DatasetArrays(rng.random((args.samples, 224, 224, 3), dtype=np.float32),
                         rng.integers(0, 1000, args.samples).astype(np.int64))
    keras_model = Artifact(model_path, "keras")
    e = {"epochs": args.epochs}
    plan = [  # (label, pass, source key, config)
        ("tf2onnx", "tf2onnx", "keras", {}),
        ("tflite", "tflite", "keras", {}),
        ("tflite int8", "tflite", "keras", {"quantization": "int8", "samples": 16}),
        ("onnx-optimize", "onnx-optimize", "onnx", {"level": "extended"}),
        ("fp16", "fp16", "onnx", {}),
        ("ort-quantize-dynamic", "ort-quantize-dynamic", "onnx", {}),
        ("ort-quantize-static", "ort-quantize-static", "onnx", {"samples": 32}),
        ("prune 50%", "prune", "keras", {"target_sparsity": 0.5, **e}),
        ("cluster 16", "cluster", "keras", {"clusters": 16, **e}),
        ("qat", "qat", "keras", e),
        ("distill 0.5", "distill", "keras", {"width_factor": 0.5, **e}),
    ]
    sources = {"keras": keras_model}
    rows = []
    for label, name, source_key, config in plan:
        spec = PASSES[name]
        scratch = root / label.replace(" ", "_").replace("%", "")
        scratch.mkdir()
        start = time.perf_counter()
        try:
            result = run_pass(spec, sources[source_key], spec.config(**config), PassContext(scratch, dataset=data, cpu_flags=isa_flags()))
        except Exception as exc:  # keep benchmarking the rest; the row says why
            rows.append((label, time.perf_counter() - start, None, None, f"failed: {str(exc)[:60]}"))
            continue
        seconds = time.perf_counter() - start
        if name == "tf2onnx":
            sources["onnx"] = result.artifact
        f = result.metrics["fidelity"]
        size = result.artifact.path.stat().st_size
        top1 = "-" if f["top1_agreement"] is None else f"{f['top1_agreement']:.3f}"
        rows.append((label, seconds, size, f"{f['max_abs_diff']:.2e}", top1))
    parent = model_path.stat().st_size
    print(f"MobileNetV2 224x224, weights=None; parent .keras {parent / 1e6:.1f} MB; {args.samples} random samples")
    print(f"{'pass':<22}{'wall s':>8}{'size MB':>9}{'max|Δ|':>11}{'top-1 agr':>11}")
    for label, seconds, size, diff, top1 in rows:
        size_text = f"{size / 1e6:.2f}" if size else "-"
        print(f"{label:<22}{seconds:>8.1f}{size_text:>9}{diff or '-':>11}{top1:>11}")


if __name__ == "__main__":
    main()
