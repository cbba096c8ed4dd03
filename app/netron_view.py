"""The Netron graph viewer, served from the dashboard's own port (``server.enableStaticServing``).

Streamlit serves ``app/static/`` at ``/app/static/`` with real content types, so the viewer (code
only) is copied there once per process (gitignored). Models are never copied: the viewer opens a
short-lived signed link to the stored artifact, served by ``app/guard.py`` to signed-in sessions only.

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
from urllib.parse import quote

STATIC = Path(__file__).resolve().parent / "static"
VIEWER = STATIC / "netron"
URL_ROOT = "/app/static"
MAX_VIEW_BYTES = 200 << 20  # larger graphs are too much for the browser viewer


EMBED_SCRIPT = "trimline-embed.js"
# Runs before Netron's own scripts (the page's CSP allows only same-origin script files): a consent
# cookie means Netron neither shows its dialog nor looks the user up on ipinfo.io.
EMBED_JS = "document.cookie = 'consent=' + Date.now() + ';path=/;max-age=31536000;SameSite=Strict';\n"


def install_viewer() -> Path:
    """Copy the netron package's browser viewer into ``app/static/netron`` unless it is there already."""
    shutil.rmtree(STATIC / "models", ignore_errors=True)  # model copies an older Trimline kept in the code tree
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


def view_name(file: Path, fmt: str) -> str:
    """The file name the viewer sees: Netron picks its reader from the suffix."""
    if file.name == "saved_model.pb":
        return "saved_model.pb"
    return "model" + (file.suffix or {"tflite": ".tflite", "onnx": ".onnx", "keras": ".keras"}.get(fmt, ""))


def viewer_url(model_link: str) -> str:
    return f"{URL_ROOT}/netron/index.html?url={quote(model_link, safe='/')}"
