"""The Netron graph viewer, served from the dashboard's own port (``server.enableStaticServing``).

Streamlit serves ``app/static/`` at ``/app/static/`` with real content types (``.js`` as JavaScript,
``.onnx`` as octet-stream) and refuses files over 200 MB, so the viewer and the shown model are
*copied* there: the viewer once per process, each model under its sha256. Both folders are gitignored.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
VIEWER = STATIC / "netron"
MODELS = STATIC / "models"
URL_ROOT = "/app/static"
MAX_STATIC_BYTES = 200 << 20  # Streamlit answers 404 for larger static files


def install_viewer() -> Path:
    """Copy the netron package's browser viewer into ``app/static/netron`` unless it is there already."""
    if (VIEWER / "index.html").exists():
        return VIEWER
    import netron

    source = Path(os.path.dirname(netron.__file__))
    STATIC.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".netron-", dir=STATIC))
    shutil.copytree(source, staging / "viewer", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    try:
        (staging / "viewer").rename(VIEWER)  # atomic: two sessions starting together cannot half-copy
    except OSError:
        pass  # another process won the race
    shutil.rmtree(staging, ignore_errors=True)
    return VIEWER


def viewable_file(artifact: Path, fmt: str) -> Path | None:
    """The one file Netron can open for a stored artifact (a SavedModel's graph, an ONNX folder's model)."""
    if artifact.is_file():
        return artifact
    if fmt == "savedmodel" and (artifact / "saved_model.pb").is_file():
        return artifact / "saved_model.pb"
    found = sorted(artifact.glob("*.onnx")) if artifact.is_dir() else []
    return found[0] if found else None


def publish(artifact: Path, fmt: str, sha256: str) -> str | None:
    """Copy a model where the viewer can fetch it; return the viewer URL, or None if it cannot be shown."""
    src = viewable_file(artifact, fmt)
    if src is None or src.stat().st_size > MAX_STATIC_BYTES:
        return None
    suffix = ".pb" if src.name == "saved_model.pb" else (src.suffix or {"tflite": ".tflite", "onnx": ".onnx"}.get(fmt, ""))
    name = f"{sha256}{suffix}"
    dest = MODELS / name
    if not dest.exists():
        MODELS.mkdir(parents=True, exist_ok=True)
        tmp = MODELS / f".{name}.{os.getpid()}"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return viewer_url(name)


def viewer_url(model_file: str) -> str:
    return f"{URL_ROOT}/netron/index.html?url={URL_ROOT}/models/{model_file}"
