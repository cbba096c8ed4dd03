"""The job's child process: ``python -m engine.jobs.child SCRATCH``.

Before anything else it walls itself in as ``sandbox.json`` (written by the runner) says: Landlock
file rules and a seccomp filter (``engine.jobs.sandbox``). Then it reads ``spec.json`` (the job's params
and the stored paths the worker resolved), runs the job kind's ``execute()`` and writes ``result.json`` in
the kind's output contract (or ``error.json`` with one sentence). It never touches the database: the
parent commits outputs, so a
crash here can lose nothing that was stored. Progress goes to ``progress.json`` (atomic rename).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from pathlib import Path

import engine  # noqa: F401  (sets ORT/TF environment defaults before any heavy import)
from engine.errors import EngineError

# libraries worth naming in the job's log when the child loaded them: each costs start-up time, and the
# child of a job that needs none of them (an ONNX export) should load none
HEAVY_LIBRARIES = ("sqlalchemy", "alembic", "numpy", "tensorflow", "tf_keras", "keras",
                   "tensorflow_model_optimization", "tf2onnx", "onnx", "onnxruntime")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def confine(scratch: Path) -> list[str]:
    """Apply the Landlock rules and the seccomp filter the runner planned; what now holds, in words.
    Raises OSError when a layer the runner found available cannot be applied (the job then fails)."""
    from engine.jobs import landlock, seccomp

    plan_file = scratch / "sandbox.json"
    if not plan_file.exists():
        return []
    plan = json.loads(plan_file.read_text())
    held: list[str] = []
    if plan["layers"].get("landlock"):
        held += landlock.restrict([Path(p) for p in plan["read"]], [Path(p) for p in plan["write"]])
    if plan["layers"].get("seccomp"):
        held += seccomp.install()
    return held


def main(scratch: Path) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        held = confine(scratch)
    except OSError as exc:
        _write_json(scratch / "error.json", {"error": f"the job's sandbox could not be set up ({exc}); "
                                                      "run 'trimline doctor' to see which layers this machine allows"})
        return 1
    from engine.jobs.kinds import KINDS, ChildContext

    spec = json.loads((scratch / "spec.json").read_text())
    log = logging.getLogger(f"trimline.job.{spec['job_id']}")
    log.info("sandbox: uid %d; %s", os.getuid(), "; ".join(held) or "no kernel confinement available")

    def progress(fraction: float, message: str) -> None:
        log.info("progress %.0f%% %s", 100 * fraction, message)
        _write_json(scratch / "progress.json", {"progress": float(fraction), "message": message})

    ctx = ChildContext(scratch=scratch, work=scratch / "work", progress=progress, log=log)
    ctx.work.mkdir(exist_ok=True)
    kind = KINDS[spec["kind"]]
    try:
        kind.params.model_validate(spec["params"])  # the spec follows the kind's contract
        result = kind.output.model_validate(kind.execute(spec, ctx)).model_dump(mode="json")
    except EngineError as exc:
        log.info("failed: %s", exc, exc_info=exc.__cause__ is not None)
        _write_json(scratch / "error.json", {"error": without_scratch(str(exc), scratch)})
        return 1
    except MemoryError:
        _write_json(scratch / "error.json", {"error": "the job ran out of memory"})
        return 1
    except Exception as exc:  # an unexpected library failure: keep the traceback in the log, say what broke
        log.error("unexpected error\n%s", traceback.format_exc())
        from engine.failures import sentence_for

        sentence = sentence_for(exc) or f"unexpected {type(exc).__name__}: {exc} (see the job log)"
        _write_json(scratch / "error.json", {"error": without_scratch(sentence, scratch)})
        return 1
    log.info("libraries loaded: %s", ", ".join(m for m in HEAVY_LIBRARIES if m in sys.modules) or "none")
    _write_json(scratch / "result.json", result)
    return 0


def without_scratch(text: str, scratch: Path) -> str:
    """A failure sentence without the job's scratch folder: a library that quotes ``<scratch>/work/model.onnx``
    reads as ``model.onnx`` (the folder is gone when the user reads it, and means nothing to them)."""
    for folder in dict.fromkeys((str(scratch), str(scratch.resolve()))):
        text = re.sub(re.escape(folder) + r"(?:/[^\s'\"]*)?/(?=[^/\s'\"]+)", "", text)
        text = text.replace(folder, "the job's folder")
    return text


def _exit(code: int) -> None:
    """End the process without the interpreter's teardown: the outcome is on disk, and TensorFlow's
    teardown alone took 1–2 s after a search. Logs are flushed first; the runner then kills the group."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main(Path(sys.argv[1])))
