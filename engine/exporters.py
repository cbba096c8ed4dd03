"""Build deployable files from a stored model: the artifact itself, a verified bundle, or a serving layout.

Every export runs in a job's child. Bundles carry a sample input with the outputs the model produced
on it, and a script that checks them, so a download can be proven to work where it lands.
"""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.artifact import Artifact
from engine.errors import InputError
from engine.provenance import source_text
from storage.store_base import file_sha256

if TYPE_CHECKING:
    import numpy as np

EXPORT_FORMATS = ("onnx", "keras", "savedmodel", "tflite", "bundle", "tfserving", "triton")
_SAME_FORMAT = {"onnx": "onnx", "keras": "keras", "savedmodel": "savedmodel", "tflite": "tflite"}

RUNNER = '''"""Run this Trimline bundle and check it reproduces the outputs recorded when it was exported.

    python run_model.py            # prints the check and the output shapes
Needs: onnxruntime (ONNX), tensorflow (Keras, SavedModel, TFLite) and numpy; a tf-keras .h5 (prune, cluster,
qat) also needs tf_keras, and qat's tensorflow-model-optimization.
"""
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
MANIFEST = json.loads((HERE / "metrics.json").read_text())


def load_keras_file(path):
    """Keras 3, or tf-keras for a Keras-2 .h5 (what prune, cluster and qat write; qat's quantize wrappers
    need tensorflow-model-optimization)."""
    if path.suffix == ".h5":
        import h5py
        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version", "")
        if (version.decode() if isinstance(version, bytes) else str(version)).startswith("2."):
            import contextlib
            import tf_keras
            scope = contextlib.nullcontext()
            try:
                import tensorflow_model_optimization as tfmot
                scope = tfmot.quantization.keras.quantize_scope()
            except ImportError:
                pass
            with scope:
                return tf_keras.models.load_model(str(path), compile=False)
    import keras
    return keras.models.load_model(str(path), compile=False)


def load(fmt, path):
    if fmt == "onnx":
        import onnxruntime as ort
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return lambda feeds: session.run(None, {n: feeds[n] for n in names})
    if fmt == "tflite":
        import tensorflow as tf
        interp = tf.lite.Interpreter(model_path=str(path))
        interp.allocate_tensors()
        def run(feeds):
            for d, value in zip(interp.get_input_details(), feeds.values()):
                interp.resize_tensor_input(d["index"], value.shape)
            interp.allocate_tensors()
            for d, value in zip(interp.get_input_details(), feeds.values()):
                interp.set_tensor(d["index"], value)
            interp.invoke()
            return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
        return run
    if fmt == "keras":
        model = load_keras_file(path)
        def run(feeds):
            out = model(list(feeds.values()) if len(feeds) > 1 else next(iter(feeds.values())), training=False)
            return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
        return run
    import tensorflow as tf
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda feeds: [v.numpy() for _, v in sorted(fn(**{k: tf.constant(v) for k, v in feeds.items()}).items())]


def main():
    model = MANIFEST["model"]
    run = load(model["format"], HERE / model["file"])
    sample = np.load(HERE / "sample.npz", allow_pickle=False)
    feeds = {name: sample["input_%d" % i] for i, name in enumerate(MANIFEST["sample_inputs"])}
    outputs = run(feeds)
    worst = max(float(np.max(np.abs(np.asarray(o, "float64") - sample["output_%d" % i])))
                for i, o in enumerate(outputs))
    ok = worst <= MANIFEST["sample_tolerance"]
    print("outputs:", [tuple(np.shape(o)) for o in outputs])
    print("check:", "ok" if ok else "MISMATCH", "max abs diff %.3g" % worst)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
'''


def _zip_dir(folder: Path, out: Path) -> Path:
    """Every file under ``folder``, and its empty folders (a Triton ensemble's version folder is one)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(folder.rglob("*")):
            if item.is_file() or (item.is_dir() and not any(item.iterdir())):
                zf.write(item, item.relative_to(folder).as_posix())
    return out


def export_name(manifest: dict[str, Any]) -> str:
    """The model's name as export files and Triton model folders carry it."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", manifest["model"]["name"]).strip("-")[:60] or "model"


def _copy_model(artifact: Artifact, dest: Path) -> str:
    """Copy the model into ``dest``; returns its name there."""
    src = artifact.path
    if artifact.format == "onnx" and src.is_dir():
        shutil.copytree(src, dest / "model")
        return "model/model.onnx"
    name = "saved_model" if artifact.format == "savedmodel" else "model" + (src.suffix or "")
    (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dest / name)
    return name


def check_export_request(model_format: str, target: str, model_id: int | str = "ID") -> None:
    """Refuse, before queueing, an export the model's format cannot give."""
    if target not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {target!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if target in _SAME_FORMAT and target != model_format and not (target == "savedmodel" and model_format == "keras"):
        hint = {"onnx": "tf2onnx", "tflite": "tflite"}.get(target)
        how = f"; derive a {target} variant first with `trimline optimize {model_id} {hint}`" if hint else ""
        raise InputError(f"model {model_id} is a {model_format} model and cannot be exported as {target}{how}")
    if target == "triton" and model_format != "onnx":
        raise InputError("a Triton model repository is built from an ONNX model; convert this one with tf2onnx first")
    if target == "tfserving" and model_format not in ("keras", "savedmodel"):
        raise InputError("TensorFlow Serving needs a Keras or SavedModel model, not " + model_format)


def _savedmodel_from_keras(artifact: Artifact, dest: Path) -> Path:
    """A SavedModel with a ``serving_default`` signature from a stored Keras model. A stored file passed the
    strict check at import, so a pass output (a QAT model's tfmot wrappers) loads by the produced rule; a
    tf-keras model is saved by tf-keras itself, since Keras 3's ``export`` takes Keras 3 models only."""
    from engine.bridge import load_keras_any

    model = load_keras_any(artifact.path)
    if type(model).__module__.startswith("tf_keras"):
        model.save(str(dest), save_format="tf", include_optimizer=False)
    else:
        model.export(str(dest), format="tf_saved_model", verbose=False)
    return dest


def _sample(artifact: Artifact, inputs: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    from engine.fidelity import sample_feeds
    from engine.runtime import open_model

    predictor = open_model(artifact)
    feeds = sample_feeds(predictor.inputs, n=2, seed=0)
    return feeds, predictor.run(feeds)


def build_export(artifact: Artifact, target: str, manifest: dict[str, Any], out_dir: Path) -> Path:
    """Write the export for ``target`` under ``out_dir`` and return the file to hand to the user."""
    check_export_request(artifact.format, target)
    name = export_name(manifest)
    stage = out_dir / "stage"
    stage.mkdir(parents=True)
    if target in ("onnx", "keras", "tflite"):
        if artifact.path.is_dir():
            return _zip_dir(artifact.path, out_dir / f"{name}.onnx.zip")
        dest = out_dir / f"{name}{artifact.path.suffix}"
        shutil.copyfile(artifact.path, dest)
        return dest
    if target == "savedmodel":
        src = artifact.path if artifact.format == "savedmodel" else _savedmodel_from_keras(artifact, stage / "sm")
        return _zip_dir(src, out_dir / f"{name}.savedmodel.zip")
    if target == "tfserving":
        version = stage / name / "1"
        if artifact.format == "savedmodel":
            shutil.copytree(artifact.path, version)
        else:
            _savedmodel_from_keras(artifact, version)
        return _zip_dir(stage, out_dir / f"{name}.tfserving.zip")
    if target == "triton":
        return _triton(artifact, manifest, name, stage, out_dir)
    return _bundle(artifact, manifest, name, stage, out_dir)


def _triton(artifact: Artifact, manifest: dict[str, Any], name: str, stage: Path, out_dir: Path) -> Path:
    copy_triton_version(artifact, stage / name / "1")
    (stage / name / "config.pbtxt").write_text(triton_config(name, manifest["model"]))
    return _zip_dir(stage, out_dir / f"{name}.triton.zip")


def copy_triton_version(artifact: Artifact, version: Path) -> None:
    """``model.onnx`` (and its external-data files) in a Triton version folder."""
    version.mkdir(parents=True)
    shutil.copyfile(artifact.onnx_file, version / "model.onnx")
    if artifact.path.is_dir():
        for item in artifact.path.iterdir():
            if item.name != "model.onnx":
                shutil.copyfile(item, version / item.name)


def triton_config(name: str, model: dict[str, Any], extra: str = "", max_batch: int = 64) -> str:
    """A Triton ``config.pbtxt`` for an ONNX model's IO; ``extra`` adds blocks (instances, batching, policy)."""
    dtype_map = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64", "int32": "TYPE_INT32",
                 "int8": "TYPE_INT8", "uint8": "TYPE_UINT8", "bool": "TYPE_BOOL", "float64": "TYPE_FP64"}
    dynamic = all(io["shape"] and not isinstance(io["shape"][0], int) for io in model["inputs"])

    def block(kind: str, ios: list[dict[str, Any]]) -> str:
        rows = []
        for io in ios:
            shape = io["shape"][1:] if dynamic else io["shape"]
            dims = ", ".join(str(d) if isinstance(d, int) else "-1" for d in shape)
            rows.append(f'  {{\n    name: {pbtxt_string(io["name"])}\n    data_type: {dtype_map.get(io["dtype"], "TYPE_FP32")}\n'
                        f"    dims: [ {dims} ]\n  }}")
        return f"{kind} [\n" + ",\n".join(rows) + "\n]"

    return (f'name: {pbtxt_string(name)}\nbackend: "onnxruntime"\nmax_batch_size: {max_batch if dynamic else 0}\n'
            f"{block('input', model['inputs'])}\n{block('output', model['outputs'])}\n{extra}")


def _bundle(artifact: Artifact, manifest: dict[str, Any], name: str, stage: Path, out_dir: Path) -> Path:
    import numpy as np  # here, not at the top: a job's child that copies a model out needs no numpy
    import yaml

    model_file = _copy_model(artifact, stage)
    feeds, outputs = _sample(artifact, manifest["model"]["inputs"])
    np.savez(stage / "sample.npz", **{f"input_{i}": v for i, v in enumerate(feeds.values())},
             **{f"output_{i}": np.asarray(o, "float64") for i, o in enumerate(outputs)})
    manifest = {**manifest, "model": {**manifest["model"], "file": model_file},
                "sample_inputs": list(feeds), "sample_tolerance": 1e-4}
    (stage / "metrics.json").write_text(json.dumps(manifest, indent=2, default=str))
    (stage / "recipe.yaml").write_text(yaml.safe_dump({"name": f"{name} recipe", "steps": manifest["recipe"]},
                                                      sort_keys=False))
    (stage / "run_model.py").write_text(RUNNER)
    (stage / "README.md").write_text(_readme(manifest, model_file))
    sums = [f"{file_sha256(p)}  {p.relative_to(stage).as_posix()}" for p in sorted(stage.rglob("*")) if p.is_file()]
    (stage / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return _zip_dir(stage, out_dir / f"{name}.bundle.zip")


def pbtxt_string(text: str) -> str:
    """``text`` as a protobuf text-format string literal: quotes, backslashes, newlines and every other
    byte outside printable ASCII are escaped, so a tensor name from an uploaded model cannot end the
    string and add fields or blocks of its own to ``config.pbtxt``."""
    out = []
    for byte in str(text).encode("utf-8"):
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\\'' else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _md_code(text: str) -> str:
    """A name from the model as inline Markdown code on one line (its JSON form keeps newlines visible)."""
    return "`" + json.dumps(str(text))[1:-1].replace("`", "\\u0060") + "`"


def _readme(manifest: dict[str, Any], model_file: str) -> str:
    model = manifest["model"]
    io = "\n".join(f"- input {_md_code(i['name'])}: {i['dtype']} {i['shape']}" for i in model["inputs"])
    io += "\n" + "\n".join(f"- output {_md_code(o['name'])}: {o['dtype']} {o['shape']}" for o in model["outputs"])
    steps = "\n".join(f"{n}. `{s['pass']}` {json.dumps(s['config'])}" for n, s in enumerate(manifest["recipe"], 1))
    bench = manifest.get("benchmark") or {}
    rows = "\n".join(
        f"| {r.get('batch')} | {r.get('threads')} | {r['latency_ms']['p50']:.3f} | {r['latency_ms']['p99']:.3f} |"
        for r in bench.get("results", []) if "latency_ms" in r)
    table = ("| batch | threads | p50 ms | p99 ms |\n|---|---|---|---|\n" + rows) if rows else "not measured yet"
    source = source_text(bench)
    if rows and source:
        table += f"\n\n{source[0].upper()}{source[1:]}, the interleaved timing it decided on."
    deployment = manifest.get("deployment") or {}
    if deployment.get("settings"):
        table += ("\n\nServe it with the settings the search chose (`metrics.json` → `deployment`): "
                  + ", ".join(f"{k} {v}" for k, v in deployment["settings"].items()) + ".")
    return f"""# {model['name']}

Exported by Trimline. Format: **{model['format']}**, file `{model_file}`, sha256 `{model['sha256']}`.

{io}

## How it was made
{steps or 'An uploaded model, unchanged.'}

`recipe.yaml` re-runs these steps on another model: `trimline recipe run ID recipe.yaml`
(add `--dataset DS` when a step calibrates or fine-tunes on data).

## Measured latency ({bench.get('hardware', {}).get('cpu', 'no benchmark yet')})
{table}

## Check it works here
`python run_model.py` loads the model, runs `sample.npz` and compares with the outputs recorded at export.
`SHA256SUMS` lists every file's hash (`sha256sum -c SHA256SUMS`).
"""
