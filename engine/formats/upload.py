"""Turn one untrusted upload into a checked artifact inside the job's work folder.

The upload's name and suffix are never used: the kind is read from the bytes (zip, HDF5 and TFLite
signatures, then an ONNX protobuf parse), and the copy gets a generated name. Cheap structural checks
run before any framework parses the file.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath

from engine.artifact import Artifact
from engine.errors import FormatError, UnsafeFileError, first_line
from engine.formats.h5safe import is_hdf5
from engine.formats.zipsafe import ZipLimits, check_archive, is_zip, open_zip, safe_extract

TFLITE_ID = b"TFL3"


def prepare_upload(src: Path, workdir: Path) -> Artifact:
    """Detect the model in ``src`` by content, copy or unpack it into ``workdir`` and check it.

    ``src`` is a file (or, from the CLI, a folder holding a SavedModel or an ONNX model with its data).
    Returns the Artifact under ``workdir``. Raises FormatError for what is not a model Trimline reads
    (or is damaged), UnsafeFileError for hostile content.
    """
    src, workdir = Path(src), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if src.is_symlink() or not (src.is_file() or src.is_dir()):
        raise FormatError("the upload is not a regular file; upload the model file itself")
    if src.is_dir():
        return _prepare_folder(_copy_tree(src, _scratch(workdir)), workdir)
    if src.stat().st_size == 0:
        raise FormatError("the uploaded file is empty; upload the model file again")
    with open(src, "rb") as f:
        head = f.read(8)
    if is_zip(src):
        return _prepare_zip(src, workdir)
    if is_hdf5(src):
        return _prepare_keras(src, workdir / "model.h5")
    if head[4:8] == TFLITE_ID:
        return _prepare_tflite(src, workdir / "model.tflite")
    if _looks_like_text(src):
        raise FormatError("the file is text, not a model; upload a .keras, .h5, .onnx or .tflite file, or a .zip "
                          "holding a SavedModel or an ONNX model with its data")
    return _prepare_onnx_file(src, workdir / "model.onnx")


def _looks_like_text(src: Path) -> bool:
    """Printable UTF-8 with no NUL byte in the first 4 KiB: a protobuf model always has control bytes."""
    with open(src, "rb") as f:
        sample = f.read(4096)
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\n\r\t" for c in text)


def _scratch(workdir: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=".unpack-", dir=workdir))


def _prepare_keras(src: Path, dest: Path) -> Artifact:
    from engine.formats.keras_safe import check_keras_file

    shutil.copyfile(src, dest)
    check_keras_file(dest)
    return Artifact(dest, "keras")


def _prepare_tflite(src: Path, dest: Path) -> Artifact:
    from engine.formats.tflite_read import read_tflite

    shutil.copyfile(src, dest)
    read_tflite(dest)  # raises FormatError on a damaged flatbuffer
    return Artifact(dest, "tflite")


def _prepare_onnx_file(src: Path, dest: Path) -> Artifact:
    from engine.formats.onnx_external import check_external_data, load_onnx_proto

    shutil.copyfile(src, dest)
    model = load_onnx_proto(dest)
    check_external_data(model, None)
    _onnx_checker(dest)
    return Artifact(dest, "onnx")


def _onnx_checker(model_file: Path) -> None:
    """ONNX's own validation, given the path so it resolves external files inside the model's folder
    (only after our reference checks have passed)."""
    import onnx

    try:
        onnx.checker.check_model(str(model_file))
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        raise FormatError(f"the ONNX model is not valid ({first_line(exc)}); export it again") from exc


def _prepare_zip(src: Path, workdir: Path) -> Artifact:
    with open_zip(src) as zf:
        infos = check_archive(zf, src.stat().st_size, ZipLimits())
    names = [i.filename for i in infos if not i.is_dir()]
    if "config.json" in names and ("model.weights.h5" in names or "metadata.json" in names):
        return _prepare_keras(src, workdir / "model.keras")
    return _prepare_folder(safe_extract(src, _scratch(workdir)), workdir)


def _prepare_folder(unpacked: Path, workdir: Path) -> Artifact:
    """A SavedModel or an ONNX model (plus data files) at the root of ``unpacked`` or one folder down."""
    try:
        root = _model_root(unpacked)
        if (root / "saved_model.pb").is_file():
            from engine.formats.savedmodel_scan import scan_saved_model

            dest = workdir / "saved_model"
            os.replace(root, dest)
            scan_saved_model(dest)
            return Artifact(dest, "savedmodel")
        onnx_files = [p for p in root.iterdir() if p.suffix.lower() == ".onnx" and p.is_file()]
        if len(onnx_files) != 1:
            raise FormatError("the archive holds no SavedModel (saved_model.pb) and not exactly one .onnx "
                              "file; zip a SavedModel folder or one ONNX model with its data files")
        from engine.formats.onnx_external import check_external_data, load_onnx_proto

        dest = workdir / "onnx"
        os.replace(root, dest)
        model_file = dest / "model.onnx"
        os.replace(dest / onnx_files[0].name, model_file)
        model = load_onnx_proto(model_file)
        check_external_data(model, dest)
        _onnx_checker(model_file)
        return Artifact(dest, "onnx")
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)


def _model_root(unpacked: Path) -> Path:
    entries = [p for p in unpacked.iterdir() if not p.name.startswith("__MACOSX")]
    if (unpacked / "saved_model.pb").is_file() or any(p.suffix.lower() == ".onnx" for p in entries):
        return unpacked
    folders = [p for p in entries if p.is_dir()]
    if len(folders) == 1 and not [p for p in entries if p.is_file()]:
        return folders[0]
    raise FormatError("the archive holds no model at its root or one folder down; zip the model folder itself")


def _copy_tree(src: Path, dest: Path) -> Path:
    """Copy a folder upload, refusing links and special files (hard links included: onnxruntime
    follows them, and they may alias files outside the upload)."""
    for path in sorted(src.rglob("*")):
        rel = PurePosixPath(path.relative_to(src).as_posix())
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeFileError(f"the upload contains a symbolic link ('{rel}'); Trimline refuses links "
                                  "— copy the real file into the folder")
        if stat.S_ISDIR(info.st_mode):
            (dest / rel).mkdir(parents=True, exist_ok=True)
        elif stat.S_ISREG(info.st_mode):
            if info.st_nlink != 1:
                raise UnsafeFileError(f"the upload contains a hard-linked file ('{rel}'); Trimline refuses "
                                      "links — copy the real file into the folder")
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)
        else:
            raise UnsafeFileError(f"the upload contains a special file ('{rel}'); Trimline refuses it")
    return dest
