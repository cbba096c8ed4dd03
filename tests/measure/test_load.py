from __future__ import annotations

import subprocess
import sys
import time

import psutil

from engine.measure.load import LoadMeter


def test_load_meter_sees_a_busy_process_that_is_not_ours():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        with LoadMeter() as meter:
            time.sleep(0.7)
    finally:
        busy.kill()
        busy.wait()
    print(f"\nother load with one busy process: {meter.other_load:.2f}")
    cores = psutil.cpu_count(logical=True) or 1
    assert meter.other_load > 0.6 / cores  # one core of all of them, minus scheduling slack
