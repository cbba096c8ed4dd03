"""The Netron graph viewer, served from the dashboard's own port (``server.enableStaticServing``).

Streamlit serves ``app/static/`` at ``/app/static/`` with real content types (``.js`` as JavaScript,
``.onnx`` as octet-stream) and refuses files over 200 MB, so the viewer and the shown model are
*copied* there: the viewer once per process, each model under its sha256. Both folders are gitignored.

Static files are served without the dashboard's login: a model copy's URL holds its sha256, so only
someone who already knows the model's digest can fetch it.

The copied ``index.html`` is patched so the embedded viewer never calls out: Netron's browser build
asks ipinfo.io where the user is and shows a cookie-consent dialog, sends Google Analytics events when
its version is not ``0.0.0``, and refuses to work ("Please update") 180 days after its build date.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
VIEWER = STATIC / "netron"
MODELS = STATIC / "models"
URL_ROOT = "/app/static"
MAX_STATIC_BYTES = 200 << 20  # Streamlit answers 404 for larger static files
KEEP_MODELS = 32  # copies kept for the viewer; older ones are removed (the store keeps the originals)


EMBED_SCRIPT = "trimline-embed.js"
# Runs before Netron's own scripts (the page's CSP allows only same-origin script files): a consent
# cookie means Netron neither shows its dialog nor looks the user up on ipinfo.io.
EMBED_JS = "document.cookie = 'consent=' + Date.now() + ';path=/;max-age=31536000;SameSite=Strict';\n"


def install_viewer() -> Path:
    """Copy the netron package's browser viewer into ``app/static/netron`` unless it is there already."""
    if (VIEWER / EMBED_SCRIPT).exists():
        return VIEWER
    import netron

    source = Path(os.path.dirname(netron.__file__))
    STATIC.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".netron-", dir=STATIC))
    shutil.copytree(source, staging / "viewer", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    patch_index(staging / "viewer")
    shutil.rmtree(VIEWER, ignore_errors=True)  # an older, unpatched copy
    try:
        (staging / "viewer").rename(VIEWER)  # atomic: two sessions starting together cannot half-copy
    except OSError:
        pass  # another process won the race
    shutil.rmtree(staging, ignore_errors=True)
    return VIEWER


def patch_index(folder: Path) -> None:
    """No telemetry, no consent dialog, no "please update" lock-out (see the module docstring)."""
    index = folder / "index.html"
    html = index.read_text(encoding="utf-8")
    html = re.sub(r'<meta name="version" content="[^"]*">', '<meta name="version" content="0.0.0">', html)
    html = re.sub(r'<meta name="date" content="[^"]*">', '<meta name="date" content="">', html)
    html = html.replace('<script type="text/javascript" src="index.js"></script>',
                        f'<script type="text/javascript" src="{EMBED_SCRIPT}"></script>\n'
                        '<script type="text/javascript" src="index.js"></script>', 1)
    if EMBED_SCRIPT not in html:
        raise OSError("the netron viewer's index.html has changed shape; cannot embed it safely")
    index.write_text(html, encoding="utf-8")
    (folder / EMBED_SCRIPT).write_text(EMBED_JS, encoding="utf-8")


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
        _prune(keep=dest)
    return viewer_url(name)


def _prune(keep: Path) -> None:
    copies = sorted((p for p in MODELS.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in copies[KEEP_MODELS:]:
        if old != keep:
            old.unlink(missing_ok=True)


def viewer_url(model_file: str) -> str:
    return f"{URL_ROOT}/netron/index.html?url={URL_ROOT}/models/{model_file}"
