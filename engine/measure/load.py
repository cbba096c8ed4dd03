"""How busy the rest of the machine was while we timed: CPU used by other processes.

A benchmark host should be quiet (jobs hold a host-wide lock), but a shell, a test run or another
VM's work can still land on the cores. Rather than trust that, each cell records the share of the
machine's CPU time that other processes used during it, and the result warns when it is high.
"""
from __future__ import annotations

import time

import psutil

NOISY = 0.10  # other processes using more than this share of all cores make a cell's numbers suspect


def _busy_s() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


def _ours_s() -> float:
    me = psutil.Process()
    c = me.cpu_times()
    return c.user + c.system + c.children_user + c.children_system


class LoadMeter:
    """``with LoadMeter() as m: ...`` then ``m.other_load``: the share of all cores (0–1) busy with other
    processes' work or stolen by the hypervisor for neighbouring VMs while the block ran."""

    def __enter__(self) -> "LoadMeter":
        self._wall, self._busy, self._ours = time.perf_counter(), _busy_s(), _ours_s()
        self.other_load = 0.0
        self.process_percent = 0.0
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._wall
        other = (_busy_s() - self._busy) - (_ours_s() - self._ours)
        cores = psutil.cpu_count(logical=True) or 1
        self.other_load = max(0.0, min(1.0, other / (wall * cores))) if wall > 0 else 0.0
        # this process's own CPU use while timed, as top shows it (100% = one core busy)
        self.process_percent = 100.0 * (_ours_s() - self._ours) / wall if wall > 0 else 0.0


def wait_until_quiet(max_wait_s: float = 120.0, probe_s: float = 1.0) -> float:
    """Poll until other processes use at most ``NOISY`` of the CPU, or ``max_wait_s`` passes; the last load seen."""
    deadline = time.perf_counter() + max_wait_s
    while True:
        with LoadMeter() as meter:
            time.sleep(probe_s)
        if meter.other_load <= NOISY or time.perf_counter() > deadline:
            return meter.other_load
