"""Uploads and imports: models, data sets, and the demo."""
from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from engine import environment
from engine.actor import require
from engine.api.common import get_model, ready
from engine.errors import InputError
from engine.jobs import service
from engine.jobs.contracts import DatasetImportParams, DemoParams, ImportParams
from engine.jobs.uploads import discard_staged, stage_upload
from storage.records import JobRecord, ModelRecord

MAX_UPLOAD_BYTES = 2 << 30


def save_upload(stream: BinaryIO, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Stream an untrusted upload to disk under a generated name (never the client's file name). Engineers only."""
    require("engineer", "upload files")
    folder = environment.ready().upload_dir
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"upload-{uuid.uuid4().hex}"
    written = 0
    try:
        with dest.open("wb") as out:
            while chunk := stream.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise InputError(f"the upload is larger than the limit of {max_bytes >> 20} MB")
                out.write(chunk)
    except BaseException:  # too large, a full disk, Ctrl-C: no partial upload stays behind
        dest.unlink(missing_ok=True)
        raise
    if written == 0:
        dest.unlink(missing_ok=True)
        raise InputError("the uploaded file is empty")
    return dest


def _stage_local_file(path: Path) -> Path:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"no such file or folder: {path}") from None
    except OSError as exc:  # a path too long, a loop of links, no permission
        raise InputError(f"cannot read {str(path)[:200]} ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a folder; upload a SavedModel or an ONNX model with external data as a .zip")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise InputError(f"{path} is not a regular file (a pipe, socket or device); import the model file itself")
    with path.open("rb") as fh:
        return save_upload(fh)


def submit_import(path: Path | None = None, name: str | None = None, upload: Path | None = None) -> JobRecord:
    """Import a model file (a local path, or an upload already saved by ``save_upload``)."""
    ready()
    source = stage_upload(upload or _stage_local_file(Path(path)))
    name = (name or (Path(path).stem if path else "model")).strip()[:200] or "model"
    return _submit_staged("import", ImportParams(**source, name=name), source)


def submit_dataset_import(path: Path | None = None, name: str | None = None, upload: Path | None = None,
                          label_column: str | None = None, for_model_id: int | None = None) -> JobRecord:
    """Import a data set. With ``for_model_id``, a zip of images is resized and laid out for that model."""
    ready()
    layout = image_layout_for(get_model(for_model_id)) if for_model_id is not None else None
    source = stage_upload(upload or _stage_local_file(Path(path)))
    name = (name or (Path(path).stem if path else "dataset")).strip()[:200] or "dataset"
    return _submit_staged("dataset_import", DatasetImportParams(**source, name=name, label_column=label_column,
                                                                image_layout=layout), source)


def _submit_staged(kind: str, params: ImportParams, source: dict[str, str]) -> JobRecord:
    """Queue an import; if that fails, its staged upload goes too."""
    try:
        return service.submit(kind, params)
    except BaseException:
        discard_staged(source)
        raise


def image_layout_for(model: ModelRecord) -> dict[str, Any]:
    """Image size, channels and layout a model's first input expects (4-D inputs only)."""
    shape = model.inputs[0]["shape"] if model.inputs else []
    if len(shape) != 4:
        raise InputError(f"model {model.id}'s input has shape {shape}; only image models (4-D input) set an "
                         "image size for a data set")
    dims = [d if isinstance(d, int) else None for d in shape[1:]]
    channels_first = dims[0] in (1, 3, 4) and dims[2] not in (1, 3, 4)
    h, w, c = (dims[1], dims[2], dims[0]) if channels_first else (dims[0], dims[1], dims[2])
    if not (h and w and c):
        raise InputError(f"model {model.id}'s input {shape} has no fixed image size to resize to")
    return {"size": [h, w], "channels": c, "channels_first": channels_first}


def load_demo() -> JobRecord:
    """Queue the demo: train a small CNN on scikit-learn's digits, import it and its test set (one job)."""
    ready()
    return service.submit("demo", DemoParams())

