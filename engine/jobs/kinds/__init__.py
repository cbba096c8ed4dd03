"""Job kinds. Each declares its contract (``engine.jobs.contracts``: params, child output, result) and
has three halves:

- ``prepare(session, job, params) -> spec``: in the worker, resolve ids to stored paths (plain JSON);
- ``execute(spec, ctx) -> output``: in the sandboxed child, do the work, write files under ``ctx.work``;
- ``commit(session, job, params, output, scratch) -> result``: in the worker, store files and rows atomically.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel
from sqlalchemy.orm import Session

from storage.records import JobRecord


@dataclass
class ChildContext:
    scratch: Path
    work: Path
    progress: Callable[[float, str], None]
    log: logging.Logger


@dataclass(frozen=True)
class JobKind:
    params: type[BaseModel]
    output: type[BaseModel]
    result: type[BaseModel]
    prepare: Callable[[Session, JobRecord, Any], dict[str, Any]]
    execute: Callable[[dict[str, Any], ChildContext], dict[str, Any]]
    commit: Callable[[Session, JobRecord, Any, Any, Path], dict[str, Any]]
    exclusive: bool = False  # holds the host lock alone (measurements)
    # runs inside the sandbox's walls; False only for a kind that opens no uploaded file and must reach a
    # server on this host (a load test)
    sandboxed: bool = True
    # commits what a cancelled or timed-out child left in its scratch ``live.json`` (a search's finished part,
    # in the kind's output contract)
    partial: Callable[[Session, JobRecord, Any, Any, Path], Any] | None = None

    def params_of(self, job: JobRecord) -> Any:
        """The job's params as their model (they were validated when the job was submitted)."""
        return self.params.model_validate(job.params)


def _load() -> dict[str, JobKind]:
    from engine.jobs.kinds import auto, exporting, importing, loadtesting, measuring, optimizing

    return {
        "import": importing.IMPORT,
        "dataset_import": importing.DATASET_IMPORT,
        "demo": importing.DEMO,
        "optimize": optimizing.OPTIMIZE,
        "recipe": optimizing.RECIPE,
        "benchmark": measuring.BENCHMARK,
        "ab_compare": measuring.AB_COMPARE,
        "evaluate": measuring.EVALUATE,
        "export": exporting.EXPORT,
        "loadtest": loadtesting.LOADTEST,
        "auto": auto.AUTO,
    }


KINDS: dict[str, JobKind] = _load()
