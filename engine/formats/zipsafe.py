"""Extracting untrusted zip files: refuse hostile entries, cap sizes while streaming.

Entries are refused, never rewritten: a name that tries to leave the folder means the archive was
made to attack, and silently "fixing" it would hide that. Sizes are counted from the bytes actually
inflated, because the sizes in the headers are written by the attacker.
"""
from __future__ import annotations

import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import FormatError, UnsafeFileError

CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """Caps on what one archive may expand to."""

    max_total_bytes: int = 4 << 30
    max_entries: int = 2000
    max_ratio: float = 200.0  # uncompressed:compressed, checked once an entry passes ratio_floor
    ratio_floor: int = 1 << 20


def is_zip(path: Path) -> bool:
    """True when the file starts like a zip archive (local header or an empty archive)."""
    with open(path, "rb") as f:
        return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip for reading; FormatError when it is damaged (the caller closes it)."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FormatError("the file looks like a zip but cannot be read as one (damaged or truncated); "
                          "upload it again") from exc


def check_entry_name(name: str) -> None:
    """Raise UnsafeFileError when a zip entry name could land outside the extraction folder."""
    if "\\" in name:
        raise UnsafeFileError(f"the zip entry '{name}' contains a backslash; Trimline refuses archives "
                              "with such paths — re-create the zip with plain relative paths")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
        raise UnsafeFileError(f"the zip entry '{name}' is an absolute path; Trimline refuses it — "
                              "re-create the zip with relative paths")
    if ".." in PurePosixPath(name).parts:
        raise UnsafeFileError(f"the zip entry '{name}' points outside the archive ('..'); Trimline "
                              "refuses it — re-create the zip with plain relative paths")


def _check_mode(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    # Unix-made zips store st_mode in the high 16 bits; 0 means "no mode recorded" (Windows tools).
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if kind == stat.S_IFLNK else "a special file"
        raise UnsafeFileError(f"the zip entry '{info.filename}' is {what}; Trimline refuses links and "
                              "special files in archives — zip the real files instead")


def check_archive(zf: zipfile.ZipFile, archive_size: int, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Check names, modes, counts and layout of every entry; return the entries in archive order.

    Overlapping entries (CVE-2024-0450, not fixed in this Python) are refused: every entry must start
    at its own offset, after the previous one, and the compressed sizes together must fit the file.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise UnsafeFileError(f"the zip has {len(infos)} entries, more than the {limits.max_entries} "
                              "Trimline accepts; upload fewer files")
    for info in infos:
        check_entry_name(info.filename)
        _check_mode(info)
    if sum(i.compress_size for i in infos) > archive_size:
        raise UnsafeFileError("the zip's entries claim more bytes than the file holds (overlapping "
                              "entries); Trimline refuses it — re-create the zip")
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for before, after in zip(ordered, ordered[1:]):
        if after.header_offset < before.header_offset + 30 + before.compress_size:
            raise UnsafeFileError("the zip's entries overlap each other; Trimline refuses such "
                                  "archives — re-create the zip")
    names = [i.filename.rstrip("/") for i in infos]
    if len(set(names)) != len(names):
        raise UnsafeFileError("the zip holds two entries with the same name; Trimline refuses it — "
                              "re-create the zip")
    return ordered


def safe_extract(src: Path, dest: Path | None = None, limits: ZipLimits = ZipLimits()) -> Path:
    """Extract ``src`` into ``dest`` (a new temp folder when None) and return that folder.

    Raises FormatError when ``src`` is not a readable zip, UnsafeFileError for hostile entries or when
    a size, count or ratio cap is passed (counted while streaming, the partial output is left inside
    ``dest`` for the caller's workdir cleanup).
    """
    if dest is None:
        dest = Path(tempfile.mkdtemp(prefix="unzip-"))
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with open_zip(src) as zf:
        infos = check_archive(zf, src.stat().st_size, limits)
        total = 0
        for info in infos:
            target = (root / info.filename).resolve()
            if root not in target.parents and target != root:
                raise UnsafeFileError(f"the zip entry '{info.filename}' points outside the archive; "
                                      "Trimline refuses it")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            total = _stream_entry(zf, info, target, total, limits)
    return dest


def _consumed(source: zipfile.ZipExtFile, info: zipfile.ZipInfo) -> int:
    """Compressed bytes read so far: the ratio is judged on what was inflated from what, as it goes."""
    left = getattr(source, "_compress_left", None)  # CPython's ZipExtFile bookkeeping
    return info.compress_size - left if isinstance(left, int) else info.compress_size


def _stream_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int,
                  limits: ZipLimits) -> int:
    written = 0
    try:
        with zf.open(info) as source, open(target, "xb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                total += len(chunk)
                if total > limits.max_total_bytes:
                    raise UnsafeFileError(f"the zip expands to more than {limits.max_total_bytes >> 20} "
                                          "MiB; Trimline refuses it — upload a smaller archive")
                if written > limits.ratio_floor and written > limits.max_ratio * max(_consumed(source, info), 1):
                    raise UnsafeFileError(f"the zip entry '{info.filename}' expands more than "
                                          f"{limits.max_ratio:.0f}:1 (a zip bomb); Trimline refuses it")
                out.write(chunk)
    except FileExistsError as exc:
        raise UnsafeFileError(f"the zip entry '{info.filename}' appears twice; Trimline refuses it") from exc
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, UnsafeFileError) as exc:
        target.unlink(missing_ok=True)  # never leave a partial file behind a refusal
        if isinstance(exc, UnsafeFileError):
            raise
        raise FormatError(f"the zip entry '{info.filename}' is damaged; upload the archive again") from exc
    return total
