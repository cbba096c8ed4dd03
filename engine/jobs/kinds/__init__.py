"""Job kinds. Each declares its contract (``engine.jobs.contracts``: params, child output, result) and
has three halves:

- ``prepare(session, job, params) -> spec``: in the worker, resolve ids to stored paths (plain JSON);
- ``execute(spec, ctx) -> output``: in the sandboxed child, do the work, write files under ``ctx.work``;
- ``commit(session, job, params, output, scratch) -> result``: in the worker, store files and rows atomically.

``KINDS`` names every kind's module and is read lazily: a job's child imports only the module of the kind
it runs, and a kind's module imports the database and the artifact store inside its worker halves, so the
child starts without SQLAlchemy or any other kind's libraries.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel

if TYPE_CHECKING:
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


# kind -> "module:NAME" of its JobKind
KIND_MODULES = {
    "import": "engine.jobs.kinds.importing:IMPORT",
    "dataset_import": "engine.jobs.kinds.importing:DATASET_IMPORT",
    "demo": "engine.jobs.kinds.importing:DEMO",
    "optimize": "engine.jobs.kinds.optimizing:OPTIMIZE",
    "recipe": "engine.jobs.kinds.optimizing:RECIPE",
    "benchmark": "engine.jobs.kinds.measuring:BENCHMARK",
    "ab_compare": "engine.jobs.kinds.measuring:AB_COMPARE",
    "evaluate": "engine.jobs.kinds.measuring:EVALUATE",
    "export": "engine.jobs.kinds.exporting:EXPORT",
    "loadtest": "engine.jobs.kinds.loadtesting:LOADTEST",
    "auto": "engine.jobs.kinds.auto:AUTO",
}


class _Kinds(Mapping[str, JobKind]):
    """Every kind by name; a kind's module is imported the first time that kind is looked up."""

    def __getitem__(self, name: str) -> JobKind:
        module, attr = KIND_MODULES[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def __iter__(self) -> Iterator[str]:
        return iter(KIND_MODULES)

    def __len__(self) -> int:
        return len(KIND_MODULES)


KINDS: Mapping[str, JobKind] = _Kinds()
