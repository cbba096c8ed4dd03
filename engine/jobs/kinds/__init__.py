"""Job kinds. Each has three halves:

- ``prepare(session, job) -> spec``: in the worker, resolve ids to stored paths (plain JSON);
- ``execute(spec, ctx) -> result``: in the sandboxed child, do the work, write files under ``ctx.work``;
- ``commit(session, job, result, scratch) -> dict``: in the worker, store files and rows atomically.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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
    prepare: Callable[[Session, JobRecord], dict[str, Any]]
    execute: Callable[[dict[str, Any], ChildContext], dict[str, Any]]
    commit: Callable[[Session, JobRecord, dict[str, Any], Path], dict[str, Any]]
    exclusive: bool = False  # holds the host lock alone (measurements)
    # commits what a cancelled or timed-out child left in its scratch ``live.json`` (a search's finished part)
    partial: Callable[[Session, JobRecord, dict[str, Any], Path], dict[str, Any]] | None = None


def _load() -> dict[str, JobKind]:
    from engine.jobs.kinds import auto, exporting, importing, measuring, optimizing

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
        "auto": auto.AUTO,
    }


KINDS: dict[str, JobKind] = _load()
