"""A deployment as the folders TF Serving and Triton load: every chosen version, its labels and settings.

TF Serving: ``NAME/<version>/`` SavedModels and a ``models.config`` (version policy and labels).
Triton: ``NAME/<version>/model.onnx`` and a ``config.pbtxt`` with the version policy, the instance
count and, when on, the dynamic-batching block.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from engine.artifact import Artifact


def _policy_text(policy: dict[str, Any], style: str) -> str:
    if policy["kind"] == "latest":
        body = f"latest {{ num_versions: {policy['n']} }}" if style == "tfs" else f"latest: {{ num_versions: {policy['n']} }}"
    elif policy["kind"] == "specific":
        nums = " ".join(f"versions: {v}" for v in policy["versions"]) if style == "tfs" else \
            f"versions: [ {', '.join(map(str, policy['versions']))} ]"
        body = f"specific {{ {nums} }}" if style == "tfs" else f"specific: {{ {nums} }}"
    else:
        body = "all {}" if style == "tfs" else "all: {}"
    return body


def tfserving_models_config(name: str, policy: dict[str, Any], labels: dict[str, int]) -> str:
    from engine.exporters import pbtxt_string  # names and labels are users' text: escaped, never spliced in

    label_rows = "".join(f"    version_labels {{ key: {pbtxt_string(k)} value: {int(v)} }}\n"
                         for k, v in sorted(labels.items()))
    return ("model_config_list {\n  config {\n"
            f"    name: {pbtxt_string(name)}\n    base_path: {pbtxt_string('/models/' + name)}\n"
            "    model_platform: 'tensorflow'\n"
            f"    model_version_policy {{ {_policy_text(policy, 'tfs')} }}\n{label_rows}  }}\n}}\n")


def triton_extra(settings: dict[str, Any], policy: dict[str, Any], labels: dict[str, int]) -> str:
    lines = [f"version_policy: {{ {_policy_text(policy, 'triton')} }}",
             f"instance_group [ {{ count: {settings['instances']} kind: KIND_CPU }} ]"]
    batching = settings["batching"]
    if batching["enabled"]:
        preferred = ", ".join(map(str, batching["preferred_sizes"]))
        lines.append("dynamic_batching {" + (f"\n  preferred_batch_size: [ {preferred} ]" if preferred else "") +
                     f"\n  max_queue_delay_microseconds: {int(batching['max_queue_delay_ms'] * 1000)}\n}}")
    threads = settings.get("intra_threads") or 0
    if threads:
        lines.append('parameters { key: "intra_op_thread_count" value: { string_value: "%d" } }' % threads)
    from engine.exporters import pbtxt_string

    lines += [f"# label {pbtxt_string(k)} -> version {int(v)} (Triton has no labels; route by version)"
              for k, v in sorted(labels.items())]
    return "\n".join(lines) + "\n"


def build_layout(target: str, serving: dict[str, Any], out_dir: Path) -> Path:
    """Write ``serving`` (name, versions[{version, path, format, model}], labels, policy, settings) as a
    ``target`` layout zipped under ``out_dir``; returns the zip."""
    from engine.exporters import _savedmodel_from_keras, _zip_dir, copy_triton_version, triton_config

    name = serving["name"]
    stage = out_dir / "stage"
    stage.mkdir(parents=True)
    for entry in serving["versions"]:
        artifact = Artifact(Path(entry["path"]), entry["format"])
        folder = stage / name / str(entry["version"])
        if target == "triton":
            copy_triton_version(artifact, folder)
        elif artifact.format == "savedmodel":
            shutil.copytree(artifact.path, folder)
        else:
            _savedmodel_from_keras(artifact, folder)
    if target == "tfserving":
        (stage / "models.config").write_text(tfserving_models_config(name, serving["policy"], serving["labels"]))
    else:
        newest = max(serving["versions"], key=lambda e: e["version"])
        max_batch = max(64, serving["settings"]["batching"]["max_batch"])
        config = triton_config(name, newest["model"], triton_extra(serving["settings"], serving["policy"],
                                                                  serving["labels"]), max_batch)
        (stage / name / "config.pbtxt").write_text(config)
    return _zip_dir(stage, out_dir / f"{name}.{target}.zip")
