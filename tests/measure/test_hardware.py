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


class _Load:
    """Stands in for ``LoadMeter``: the other processes' share of the CPU during the probe is ``share``."""
    share = 0.0

    def __enter__(self):
        self.other_load = self.share
        return self

    def __exit__(self, *exc):
        return None


def _load_during_probe(monkeypatch, share: float) -> None:
    monkeypatch.setattr(hardware, "LoadMeter", type("Load", (_Load,), {"share": share}))


def test_peak_gflops_is_probed_once_and_cached(tmp_path, monkeypatch):
    _load_during_probe(monkeypatch, 0.02)  # a quiet machine (this one is shared: its load is not ours to test)
    cache = tmp_path / "peak.json"
    first = hardware.peak_gflops(seconds=0.05, cache_path=cache)
    print("\n", first)
    assert first["all_threads"] > 0 and cache.exists()

    def refuse(*args):
        raise AssertionError("probed again despite the cache")

    monkeypatch.setattr(hardware, "_gemm_rate", refuse)
    assert hardware.peak_gflops(cache_path=cache) == first


def test_a_peak_probed_under_load_is_used_but_not_cached_nor_read_back(tmp_path, monkeypatch):
    """A peak probed while other processes used 56% of the CPU had a model read 148% of it."""
    import json

    cache = tmp_path / "peak.json"
    monkeypatch.setattr(hardware, "_gemm_rate", lambda n, s: 40.0)
    _load_during_probe(monkeypatch, 0.56)
    busy = hardware.peak_gflops(seconds=0.01, cache_path=cache)
    assert busy["all_threads"] == 40.0 and busy["other_load"] == 0.56 and not cache.exists()

    cache.write_text(json.dumps({**busy, "other_load": None}))  # cached before probes said their load
    (tmp_path / "peak.busy.json").unlink()  # the busy probe's own ten minutes of reuse: test_roofline's case
    monkeypatch.setattr(hardware, "_gemm_rate", lambda n, s: 100.0)
    _load_during_probe(monkeypatch, 0.01)
    quiet = hardware.peak_gflops(seconds=0.01, cache_path=cache)  # probed again, not read back
    assert quiet["all_threads"] == 100.0 and json.loads(cache.read_text())["all_threads"] == 100.0


def test_peak_gflops_uses_trimline_home_by_default(tmp_path, monkeypatch):
    _load_during_probe(monkeypatch, 0.0)
    monkeypatch.setenv("TRIMLINE_HOME", str(tmp_path))
    monkeypatch.setattr(hardware, "_gemm_rate", lambda n, s: 10.0)
    assert hardware.peak_gflops()["all_threads"] == 10.0
    assert (tmp_path / "hardware" / "peak_gflops.json").exists()
