"""`make bench`: every runtime and variant of two models, measured side by side in ONE run.

Models: MobileNetV2 (224×224, weights=None: latency does not depend on trained weights) and the
digits CNN trained here. Variants come from the project's passes when ``engine.passes`` has them,
else from the libraries directly. Each is timed at batch 1 with the harness (``run_benchmark``) on
all cores, then printed as p50 and as a ratio to Keras ``predict``. Also printed: the harness's
overhead against a bare ``session.run`` loop, the coefficient of variation of p50 over five repeated
benchmark runs, achieved GFLOP/s against the measured GEMM peak, and why INT8 is slower where it is.

Every measurement runs in a fresh process: TensorFlow's thread pools, once started, compete with
ONNX Runtime's for the cores, so timing ORT in a process that has run TF reads up to 50% slow.

Run: .venv/bin/python bench/run_bench.py [--quick]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.artifact import Artifact  # noqa: E402
from engine.measure.benchmark import BenchmarkConfig, run_benchmark  # noqa: E402
from engine.measure.hardware import fingerprint, peak_gflops  # noqa: E402

QUICK = "--quick" in sys.argv
BUDGET = {"warmup": 5, "min_runs": 20, "max_runs": 2000, "time_budget_s": 0.7 if QUICK else 1.5,
          "target_rel_ci": 0.01}


# ----------------------------------------------------------------------------- variants
def _with_pass(name: str, source: Artifact, config: dict, scratch: Path, data) -> Artifact:
    """Run a registered pass, or the library call it wraps when the pass is not registered (yet)."""
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        from engine.measure.hardware import isa_flags
        from engine.passes import PASSES
        from engine.passes.base import PassContext
    except ImportError:
        PASSES = {}
    if name in PASSES:
        spec = PASSES[name]
        ctx = PassContext(scratch=scratch, dataset=data, cpu_flags=isa_flags())
        return spec.run(source, spec.config(**config), ctx).artifact
    return FALLBACKS[name](source, scratch, data)


def _fallback_tf2onnx(source: Artifact, scratch: Path, data) -> Artifact:
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.models.load_model(source.path, compile=False)
    spec = (tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name="input"),)
    out = scratch / "model.onnx"
    tf2onnx.convert.from_function(tf.function(lambda x: model(x, training=False)), input_signature=spec,
                                  opset=17, output_path=str(out))
    return Artifact(out, "onnx")


def _fallback_static(source: Artifact, scratch: Path, data) -> Artifact:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    name = ort.InferenceSession(str(source.onnx_file)).get_inputs()[0].name
    items = iter([{name: data.x[i:i + 1]} for i in range(min(len(data.x), 32))])

    class Reader:
        def get_next(self):
            return next(items, None)

    out = scratch / "model.onnx"
    quantize_static(str(source.onnx_file), str(out), Reader(), quant_format=QuantFormat.QOperator,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
    return Artifact(out, "onnx")


def _fallback_dynamic(source: Artifact, scratch: Path, data) -> Artifact:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = scratch / "model.onnx"
    quantize_dynamic(str(source.onnx_file), str(out), weight_type=QuantType.QUInt8)
    return Artifact(out, "onnx")


def _fallback_fp16(source: Artifact, scratch: Path, data) -> Artifact:
    import onnx
    from onnxconverter_common import float16

    out = scratch / "model.onnx"
    onnx.save(float16.convert_float_to_float16(onnx.load(str(source.onnx_file)), keep_io_types=True), str(out))
    return Artifact(out, "onnx")


def _fallback_tflite(source: Artifact, scratch: Path, data) -> Artifact:
    import keras
    import tensorflow as tf

    model = keras.models.load_model(source.path, compile=False)
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32))
    out = scratch / "model.tflite"
    out.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], model).convert())
    return Artifact(out, "tflite")


FALLBACKS = {"tf2onnx": _fallback_tf2onnx, "ort-quantize-static": _fallback_static,
             "ort-quantize-dynamic": _fallback_dynamic, "fp16": _fallback_fp16, "tflite": _fallback_tflite}


def build_models(work: Path):
    """[(title, keras Artifact, calibration DatasetArrays)] for MobileNetV2 and the digits CNN."""
    import keras

    from engine.demo import digits_arrays, train_digits_cnn
    from engine.formats.datasets import DatasetArrays

    digits = work / "digits" / "digits.keras"
    accuracy = train_digits_cnn(digits)
    _, _, x_test, y_test = digits_arrays()
    mobilenet = work / "mobilenet" / "mobilenetv2.keras"
    mobilenet.parent.mkdir(parents=True)
    keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None).save(mobilenet)
    calib = np.random.default_rng(0).random((32, 224, 224, 3), dtype=np.float32)
    return [("MobileNetV2 224×224", Artifact(mobilenet, "keras"), DatasetArrays(calib)),
            (f"digits CNN (test acc {accuracy:.3f})", Artifact(digits, "keras"), DatasetArrays(x_test, y_test))]


def signature(artifact: Artifact) -> list[dict]:
    from engine.runtime import open_model

    return open_model(artifact).inputs


# ----------------------------------------------------------------------------- measuring
def isolated(fn, *args):  # noqa: ANN001, ANN201
    """Run ``fn(*args)`` in a fresh interpreter (spawn), so no earlier runtime's threads share the cores."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _grid_in_process(artifact: Artifact, runtime: str | None, threads: list[int], opt_levels: list[str] | None,
                     tf_threads: int) -> dict:
    if artifact.format != "onnx":  # TF's pools are sized once per process, before it first runs
        from engine.measure.runners import set_tf_threads

        set_tf_threads(tf_threads)
    extra = {"opt_levels": opt_levels} if opt_levels else {}
    out = run_benchmark(artifact, signature(artifact), BenchmarkConfig(runtime=runtime, threads=threads,
                                                                        **extra, **BUDGET))
    best = min(out["results"], key=lambda r: r["latency_ms"]["p50"])
    return {"p50": best["latency_ms"]["p50"], "ci": best["latency_ms"]["ci95_p50"], "row": best, "out": out}


def p50_row(artifact: Artifact, threads: int, runtime: str | None = None) -> dict:
    return isolated(_grid_in_process, artifact, runtime, [threads], None, threads)


def _overhead_in_process(artifact: Artifact, threads: int) -> tuple[float, float]:
    """Harness and bare loop alternately in one process (3 rounds), fastest of each."""
    from engine.measure.inputs import make_feeds

    feeds = make_feeds(signature(artifact), 1)
    bare, harness = [], []
    for _ in range(3):  # alternate, so drift and other processes' load hit both alike
        bare.append(bare_p50(artifact.onnx_file, threads, feeds))
        harness.append(_grid_in_process(artifact, None, [threads], None, threads)["p50"])
    return min(harness), min(bare)


def bare_p50(path: Path, threads: int, feeds: dict, seconds: float = 1.5) -> float:
    import onnxruntime as ort

    from engine.measure.runners import ort_options

    session = ort.InferenceSession(str(path), ort_options(threads), providers=["CPUExecutionProvider"])
    for _ in range(5):
        session.run(None, feeds)
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 20:
        t0 = time.perf_counter_ns()
        session.run(None, feeds)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return float(np.median(times))


def bench_model(title: str, keras_art: Artifact, data, work: Path, threads: int, peak: dict) -> None:
    from engine.measure.explain import explain
    from engine.measure.inputs import make_feeds
    from engine.measure.roofline import achieved, onnx_flops

    tag = keras_art.path.parent.name
    print(f"\n## {title}\n", flush=True)
    onnx32 = _with_pass("tf2onnx", keras_art, {}, work / tag / "onnx", data)
    variants = [
        ("Keras predict", keras_art, "keras-predict"),
        ("tf.function", keras_art, "tensorflow"),
        ("ORT FP32 default", onnx32, None),
        ("ORT FP32 best (threads × opt level)", onnx32, "grid"),
        ("ORT INT8 static (QOperator, per-channel, u8 activations)",
         _with_pass("ort-quantize-static", onnx32, {"samples": 32}, work / tag / "static", data), None),
        ("ORT INT8 dynamic", _with_pass("ort-quantize-dynamic", onnx32, {}, work / tag / "dynamic", data), None),
        ("ORT FP16 (keep_io_types)", _with_pass("fp16", onnx32, {}, work / tag / "fp16", data), None),
        ("TFLite FP32", _with_pass("tflite", keras_art, {}, work / tag / "tflite", data), None),
    ]
    flops = onnx_flops(onnx32.onnx_file)
    rows = []
    for name, art, runtime in variants:
        if runtime == "grid":
            cell = isolated(_grid_in_process, art, None, sorted({1, threads}), ["basic", "extended", "all"], threads)
            name = f"{name} → t{cell['row']['threads']} {cell['row']['opt_level']}"
        else:
            cell = p50_row(art, threads, runtime)
        rows.append((name, art, cell))
        print(f"  measured {name}: {cell['p50']:.3f} ms", file=sys.stderr, flush=True)
    base = rows[0][2]["p50"]
    print("| variant | p50 ms (95% CI) | × Keras predict | size MB | GFLOP/s (% of peak) | other load |")
    print("|---|---|---|---|---|---|")
    for name, art, cell in rows:
        row = cell["row"]
        roof = achieved(flops, cell["p50"], 1, row["threads"], peak)
        roof_txt = (f"{roof['achieved_gflops']:.1f} ({roof['percent_of_peak']:.0f}%)"
                    if name.startswith("ORT FP32") and roof["percent_of_peak"] is not None else "")
        print(f"| {name} | {cell['p50']:.4f} ({cell['ci'][0]:.4f}–{cell['ci'][1]:.4f}) | "
              f"{cell['p50'] / base:.4f} | {cell['out']['size_bytes'] / 1e6:.2f} | {roof_txt} | "
              f"{row.get('other_load', 0):.0%} |")
    print(f"\nmodel FLOPs (Conv/MatMul/Gemm, batch 1): {flops / 1e6:.1f} M; threads: {threads}")

    # the instrument itself: harness vs a bare loop, and repeatability
    feeds = make_feeds(signature(onnx32), 1)
    harness, bare = isolated(_overhead_in_process, onnx32, threads)
    print(f"harness overhead (ORT FP32 default, 3 alternating rounds in one process, fastest of each): harness "
          f"p50 {harness:.4f} ms vs bare session.run loop {bare:.4f} ms → {100 * (harness / bare - 1):+.2f}%")
    repeats = [p50_row(onnx32, threads) for _ in range(5)]
    p50s = [r["p50"] for r in repeats]
    cv = float(np.std(p50s, ddof=1) / np.mean(p50s))
    print(f"p50 over five repeated benchmark runs: {', '.join(f'{r:.4f}' for r in p50s)} ms → CV {100 * cv:.2f}% "
          f"(other processes' CPU share per run: {', '.join(format(r['row']['other_load'], '.0%') for r in repeats)})")

    fp32 = rows[2][2]["out"]
    for name, art, cell in rows[4:6]:
        from engine.measure.profile import profile_onnx

        child = dict(cell["out"], profile=profile_onnx(art.onnx_file, feeds, threads))
        print(f"\nwhy {name} vs ORT FP32 default:")
        for sentence in explain(fp32, child, fingerprint()):
            print(f"- {sentence}")


def main() -> None:
    from engine.measure.runners import set_tf_threads

    hw = fingerprint()
    threads = hw["cores"]["physical"] or hw["cores"]["logical"]
    set_tf_threads(threads)  # before TensorFlow starts: its pools are sized once per process
    peak = peak_gflops()
    flags = [f for f, on in hw["flags"].items() if on]
    print("# Trimline runtime bench\n")
    print(f"CPU: {hw['cpu']} — {hw['cores']['logical']} logical / {hw['cores']['physical']} physical cores, "
          f"{hw['memory_gb']} GB; flags: {', '.join(flags)}")
    print(f"versions: {hw['versions']}; float32 GEMM peak (numpy, 1024²): {peak['single_thread']} GFLOP/s on "
          f"one thread, {peak['all_threads']} on {peak['threads']}")
    from engine.measure.load import wait_until_quiet

    before = wait_until_quiet(max_wait_s=0 if QUICK else 120)
    print(f"other processes' CPU share before starting: {before:.0%} (the 'other load' column is per row)")
    print(f"every row: batch 1, {threads} threads (all cores) unless named; p50 with its order-statistic 95% CI")
    with tempfile.TemporaryDirectory(prefix="trimline-bench-") as tmp:
        for title, keras_art, data in build_models(Path(tmp)):
            bench_model(title, keras_art, data, Path(tmp), threads, peak)


if __name__ == "__main__":
    main()
