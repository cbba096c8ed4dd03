"""The fingerprint reads the machine; the GEMM peak is probed once and cached."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.measure import hardware


def test_fingerprint_flags_match_proc_cpuinfo():
    fp = hardware.fingerprint()
    assert set(fp) >= {"cpu", "cores", "flags", "memory_gb", "os", "python", "versions"}
    assert fp["cores"]["logical"] >= 1 and fp["memory_gb"] > 0
    text = Path("/proc/cpuinfo").read_text()
    flags = set(next(line for line in text.splitlines() if line.startswith("flags")).split(":")[1].split())
    assert fp["flags"] == {f: f in flags for f in hardware.FLAGS}
    assert fp["versions"]["onnxruntime"] and fp["versions"]["numpy"]


def test_fingerprint_does_not_import_tensorflow():
    code = ("import sys; from engine.measure.hardware import fingerprint; v = fingerprint()['versions']; "
            "assert v['tensorflow'], v; assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_peak_gflops_is_probed_once_and_cached(tmp_path, monkeypatch):
    cache = tmp_path / "peak.json"
    first = hardware.peak_gflops(seconds=0.05, cache_path=cache)
    print("\n", first)
    assert first["all_threads"] > 0 and cache.exists()

    def refuse(*args):
        raise AssertionError("probed again despite the cache")

    monkeypatch.setattr(hardware, "_gemm_rate", refuse)
    assert hardware.peak_gflops(cache_path=cache) == first


def test_peak_gflops_uses_trimline_home_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path))
    monkeypatch.setattr(hardware, "_gemm_rate", lambda n, s: 10.0)
    assert hardware.peak_gflops()["all_threads"] == 10.0
    assert (tmp_path / "hardware" / "peak_gflops.json").exists()
