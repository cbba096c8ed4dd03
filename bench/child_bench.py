"""Start-up of a job's child process, side by side in ONE run.

A worker runs every job in a fresh ``python -m engine.jobs.child SCRATCH``; what that process imports
before the job's own work is paid by every job. This runs the child of a small job (an ONNX model
exported as it is: a file copy) N times, each in a fresh scratch folder, and prints the median wall time
and CPU time (user + system, from the child's own resource usage) next to:

- ``before (REV)``: the same job in the child of an earlier revision, unpacked from git (default: the last
  revision whose child loaded the whole job-kind registry, SQLAlchemy and the storage layer included);
- ``python alone``: the interpreter starting and exiting (the floor).

It also prints which heavy libraries the child loaded (its log line ``libraries loaded: ...``).

Run: .venv/bin/python bench/child_bench.py [--runs 10] [--baseline REV]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE = "d4a6c9f"  # the last revision whose child imported every job kind and the storage layer


def _spec(folder: Path) -> dict:
    from tests.app.conftest import write_tiny_onnx

    model = write_tiny_onnx(folder / "tiny.onnx")
    return {"job_id": 0, "kind": "export", "params": {"model_id": 1, "format": "onnx"},
            "model": {"id": 1, "path": str(model), "format": "onnx", "inputs": [], "outputs": [], "flops": None,
                      "size_bytes": model.stat().st_size, "pass": None},
            "target": "onnx", "manifest": {"model": {"name": "tiny"}}}


def _unpack(rev: str, dest: Path) -> Path:
    """The tree of revision ``rev`` under ``dest`` (its engine/ and storage/ packages)."""
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "engine", "storage"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _once(argv: list[str], scratch: Path, spec: dict | None, code: Path = ROOT) -> tuple[float, float, str]:
    """(wall s, cpu s, stderr) of one child run of the code under ``code`` in a fresh scratch folder."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    if spec is not None:
        (scratch / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    proc = subprocess.Popen(argv + [str(scratch)], cwd=code, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0 or (spec is not None and not (scratch / "result.json").exists()):
        raise SystemExit(f"the child failed: {err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, err


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", default=BASELINE, help="the revision to compare with")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="trimline-child-"))
    try:
        spec, scratch, child = _spec(tmp), tmp / "scratch", [sys.executable, "-m", "engine.jobs.child"]
        variants = {
            "child, this tree": (child, spec, ROOT),
            f"child, {args.baseline}": (child, spec, _unpack(args.baseline, tmp / "baseline")),
            "python alone": ([sys.executable, "-c", "import sys"], None, ROOT),
        }
        rows, loaded = {}, ""
        for _ in range(args.runs):  # interleaved, so a busy moment hits every variant alike
            for name, (argv, sp, code) in variants.items():
                wall, cpu, err = _once(argv, scratch, sp, code)
                rows.setdefault(name, []).append((wall, cpu))
                if name == "child, this tree":
                    loaded = next((ln.split("libraries loaded: ", 1)[1] for ln in err.splitlines()
                                   if "libraries loaded: " in ln), "(no log line)")
        print(f"job child start-up, median of {args.runs} runs (wall s / cpu s):")
        for name, vals in rows.items():
            print(f"  {name:<22} wall {statistics.median(w for w, _ in vals):.2f} s  "
                  f"cpu {statistics.median(c for _, c in vals):.2f} s")
        print(f"heavy libraries this tree's child loaded: {loaded}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
