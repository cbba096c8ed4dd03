"""Peak resident memory of this process over a stretch of work.

Linux keeps a high-water mark (VmHWM) that ``/proc/self/clear_refs`` resets, which gives a true
per-cell peak without a sampling thread competing with the timed work for the cores. Elsewhere
the fallback is the current RSS, read by the caller at checkpoints, which can miss short spikes.
"""
from __future__ import annotations

from pathlib import Path

import psutil

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start a new peak window; False when the OS has no resettable high-water mark."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    """The peak RSS since the last ``reset_peak`` (or process start), in MiB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mb()
