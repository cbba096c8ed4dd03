"""A small real disk for tests of what Trimline says and keeps when a disk fills up: a tmpfs mounted on a
folder the test owns (mounting needs root; without it the test is skipped and says why)."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """``folder``, made here, as a tmpfs of ``size`` (``64k``, ``6m``) for the length of the block; lazily
    unmounted after it, so a file still open in a failed test does not keep the mount."""
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
