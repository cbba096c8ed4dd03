"""With the op scan switched off, hostile graphs run inside a real worker's job children and still read
nothing outside the job: not a canary file beside the home, not the database, not the worker's
/proc/<pid>/environ — on import (reads while loading), benchmark, optimize and export (reads when called).
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.jobs import service
from storage import artifacts
from tests.safety.hostile_graphs import leaky_savedmodel
from tests.servers import Workers

pytestmark = [pytest.mark.xdist_group("jobs"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BYPASS = Path(__file__).with_name("scan_bypass")
PASSWORD = f"team-password-{uuid.uuid4().hex}"


@pytest.fixture()
def bypassed_worker(home: Path):
    """A real worker whose job children skip the op scan, started with a team password in its environment."""
    api.ready()
    workers = Workers()
    try:
        yield workers.start(home, env={"PYTHONPATH": f"{BYPASS}{os.pathsep}{ROOT}", "TRIMLINE_PASSWORD": PASSWORD})
    finally:
        workers.stop()


def _run(job_id: int):  # noqa: ANN202
    deadline = time.monotonic() + 300
    job = service.get(job_id)
    while not job.done:
        assert time.monotonic() < deadline, f"job {job_id} never ended"
        time.sleep(0.3)
        job = service.get(job_id)
    return job


def _evidence(job, home: Path) -> str:  # noqa: ANN001
    """Everything a job hands back: its error, its result and its log."""
    log = (home / "logs" / f"job-{job.id}.log").read_text(errors="replace")
    return f"{job.error}\n{json.dumps(job.result)}\n{log}"


def test_hostile_graphs_read_nothing_outside_the_job_with_the_scan_off(bypassed_worker: subprocess.Popen,
                                                                       home: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    canary = tmp_path / "canary.txt"
    canary.write_text(f"CANARY-{uuid.uuid4().hex}\n")
    targets = {"canary": canary, "database": home / "trimline.db",
               "worker environ": Path(f"/proc/{bypassed_worker.pid}/environ")}
    assert all(t.exists() for t in targets.values())
    secrets = [canary.read_text().strip(), PASSWORD, "SQLite format 3"]
    leaky = leaky_savedmodel(tmp_path / "leaky", list(targets.values()))

    # Unconfined, the graph does read the files (here while loading): the test would catch a sandbox that
    # let it. The worker itself no longer holds its password in its environment.
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"LEAKED[\s\S]*CANARY-") as unconfined:
        tf.saved_model.load(str(tmp_path / "leaky"))
    assert "SQLite format 3" in str(unconfined.value)
    assert PASSWORD not in targets["worker environ"].read_text(errors="replace"), "the worker kept its secret"

    # In jobs it finds nothing to read — on import (reads while loading) and on every path that calls it
    # — so it runs through, and nothing it could have read reaches a result, an error or a log.
    imported = _run(api.submit_import(leaky, name="leaky").id)
    assert imported.status == "succeeded", imported.error
    model_id = imported.result["model_id"]
    quick = {"batches": [1], "threads": [1], "warmup": 1, "min_runs": 3, "max_runs": 5, "time_budget_s": 0.2}
    bench = _run(api.submit_benchmark(model_id, quick).id)
    optimize = api.submit_optimize(model_id, "tflite", {})
    converted = _run(optimize.job.id)
    export = _run(api.submit_export(model_id, "bundle").id)
    for job in (imported, bench, converted, export):
        evidence = _evidence(job, home)
        assert not any(s in evidence for s in secrets), (job.kind, job.error)
        assert "sandbox: uid" in evidence
    assert bench.status == "succeeded", bench.error
    assert export.status == "succeeded", export.error
    with zipfile.ZipFile(artifacts.resolve(export.result["artifact"])) as bundle:
        name = next(n for n in bundle.namelist() if n.endswith("sample.npz"))
        bundle.extract(name, tmp_path / "bundle")
    with np.load(tmp_path / "bundle" / name, allow_pickle=False) as sample:
        assert float(np.max(sample["output_0"][:, 0])) == 0.0  # the graph counted the files it read: none
