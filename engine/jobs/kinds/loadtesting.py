"""Load-test jobs: a closed-loop sweep against a running server on the worker's host, stored as a
``server-http`` measurement with the hardware fingerprint, so it shows on Compare.

The child opens no uploaded file: it only sends Trimline's own requests to a loopback server and reads
the answers. It therefore runs without the namespace and socket walls (they would cut it off from that
server) but keeps the runner's limits: its own process group, a scrubbed environment, rlimits, the
wall-clock and memory limits, cancellation. The job holds the host lock alone, as benchmarks do.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.jobs import contracts as c
from engine.jobs.kinds import ChildContext, JobKind
from engine.jobs.kinds.common import store_hardware


def _prepare(session, job, params: c.LoadtestParams) -> dict[str, Any]:  # noqa: ANN001
    from storage.settings import get_settings

    token = get_settings().serve_token  # what a managed server asks of its clients; never stored on the job
    return {"token": token.get_secret_value() if token else None}


def _execute(spec: dict[str, Any], ctx: ChildContext) -> dict[str, Any]:
    from engine.measure.hardware import fingerprint
    from engine.serving.loadtest import LoadtestConfig, sweep

    params = spec["params"]
    ctx.progress(0.0, "reading the hardware")
    hardware = fingerprint()
    result = sweep(params["url"], params["name"], LoadtestConfig.model_validate(params["config"]),
                   params.get("version"), spec.get("token"), progress=ctx.progress)
    return {"hardware": hardware, "loadtest": result}


def store(session, hardware: dict[str, Any], result: dict[str, Any], job_id: int | None = None) -> int:  # noqa: ANN001
    """Record a sweep as a ``server-http`` benchmark of the model that answered; returns the measurement id."""
    from storage import catalog, measurements

    if catalog.get_model(session, result["model_id"]) is None:
        raise InputError(f"the server's model {result['model_id']} is not in this studio's catalogue")
    hw = store_hardware(session, hardware)
    summary = {k: v for k, v in result.items() if k != "samples"}
    m = measurements.add_measurement(session, model_id=result["model_id"], job_id=job_id, hardware_id=hw.id,
                                     kind="benchmark", runtime="server-http", summary=summary,
                                     samples=result.get("samples", {}))
    return m.id


def _commit(session, job, params: c.LoadtestParams, output: c.LoadtestOutput,  # noqa: ANN001
            scratch: Path) -> c.LoadtestResult:
    result = output.loadtest
    measurement = store(session, output.hardware, result, job.id)
    return c.LoadtestResult.model_validate({**{k: v for k, v in result.items() if k != "samples"},
                                            "measurement_id": measurement, "hardware": output.hardware})


LOADTEST = JobKind(c.LoadtestParams, c.LoadtestOutput, c.LoadtestResult, _prepare, _execute, _commit,
                   exclusive=True, sandboxed=False)
