"""What machine a measurement ran on: CPU, ISA flags, memory, versions, and its measured GEMM peak.

Measurements are only compared within one fingerprint, so everything here is read, never assumed:
the ISA flags come from /proc/cpuinfo (a CPU sold as "AVX2-class" may well report AVX-512 VNNI).
TensorFlow's version is read from package metadata — importing it would take seconds.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from engine.measure.load import LoadMeter

FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
         "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
PACKAGES = ("onnxruntime", "tensorflow", "ai-edge-litert", "numpy", "onnx")  # ai-edge-litert runs TFLite models


def _cpuinfo() -> tuple[str, set[str]]:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                name = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags = set(value.split())
                break
    except OSError:
        pass
    return name, flags


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity): the default thread count for timing."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def isa_flags() -> dict[str, bool]:
    """The ISA flags that decide kernel choice (AVX2, AVX-512 VNNI, AMX...), each present or not."""
    return {flag: flag in _cpuinfo()[1] for flag in FLAGS}


def fingerprint() -> dict[str, Any]:
    """CPU model, logical/physical cores, the ISA flags that decide kernel choice, memory, OS, versions."""
    name, flags = _cpuinfo()
    return {
        "cpu": name,
        "cores": {"logical": psutil.cpu_count(logical=True), "physical": psutil.cpu_count(logical=False)},
        "flags": {flag: flag in flags for flag in FLAGS},
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in PACKAGES},
    }


def _gemm_rate(n: int, seconds: float) -> float:
    import numpy as np

    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b  # warm the BLAS pool and caches
    runs, start = 0, time.perf_counter()
    while True:
        a @ b
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and runs >= 3:
            return 2.0 * n**3 * runs / elapsed / 1e9


def _blas_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{k: i.get(k) for k in keep} for i in threadpool_info() if i.get("user_api") == "blas"]


def _cache_path(cache_path: Path | None) -> Path:
    if cache_path is not None:
        return Path(cache_path)
    from storage.settings import get_settings

    return get_settings().home / "hardware" / "peak_gflops.json"


def peak_gflops(seconds: float = 1.0, cache_path: Path | None = None, refresh: bool = False) -> dict[str, Any]:
    """The machine's float32 GEMM rate with numpy's BLAS on one thread and on all threads, in GFLOP/s.

    Probed once and cached on disk (``cache_path``, else ``$TRIMLINE_HOME/hardware/peak_gflops.json``) keyed
    by the fingerprint, since the probe takes ~2×``seconds``. ``OPENBLAS_CORETYPE`` is recorded, not changed.
    The share of the CPU other processes used during the probe is recorded as ``other_load``: a peak probed
    under load (above ``NOISY``) is never cached as the machine's peak; it is kept apart and reused, marked by
    its load, for ``BUSY_REUSE_S``, so that on a busy machine every job does not probe again.
    """
    from engine.measure.roofline import measured_quietly

    path = _cache_path(cache_path)
    busy = path.with_name(path.stem + ".busy.json")  # the latest probe under load, reused for a while
    fp = fingerprint()
    key = {"cpu": fp["cpu"], "cores": fp["cores"], "numpy": fp["versions"]["numpy"]}
    if not refresh:
        cached, recent = _read_json(path), _read_json(busy)
        if cached.get("key") == key and measured_quietly(cached):
            return cached
        age = time.time() - recent.get("probed_at", -BUSY_REUSE_S)
        if recent.get("key") == key and -1.0 <= age < BUSY_REUSE_S:  # -1: probed_at is rounded to 0.1 s
            return recent  # a busy machine: each job probing again would cost ~2 s and read no better
    n = 1024
    result: dict[str, Any] = {"key": key, "matrix": n, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    with LoadMeter() as load:
        if threadpool_limits is not None:
            with threadpool_limits(limits=1, user_api="blas"):
                result["single_thread"] = round(_gemm_rate(n, seconds), 1)
        else:  # without threadpoolctl the single-thread figure cannot be isolated
            result["single_thread"] = None
        result["all_threads"] = round(_gemm_rate(n, seconds), 1)
    result["other_load"] = round(load.other_load, 3)
    result["threads"] = psutil.cpu_count(logical=True)
    result["blas"] = _blas_info()
    result["probed_at"] = round(time.time(), 1)
    # Other work slowed a probe under load: a figure below the machine's, never kept as its peak, only reused
    # (still marked by its load) by the jobs of the next few minutes instead of each probing again.
    _write_json(path if measured_quietly(result) else busy, result)
    return result


BUSY_REUSE_S = 600.0


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home still gets the figures, just not cached


if __name__ == "__main__":  # python -m engine.measure.hardware
    json.dump({"fingerprint": fingerprint(), "peak": peak_gflops(refresh="--refresh" in sys.argv)},
              sys.stdout, indent=1)
