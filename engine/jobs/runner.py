"""Run one job: claim it, prepare its spec, run it in a sandboxed child process, commit its outputs.

The child runs in a sandbox (``engine.jobs.sandbox``: namespaces, another user, Landlock, seccomp,
limits, each as far as this machine allows) that sees only the libraries, the job's input artifacts and
its own scratch folder; it gets a scrubbed environment, its own process group, resource limits and a
wall-clock timeout. The parent watches it, heartbeats the lease, honours cancellation and kills the
whole group when it must. Outputs reach the artifact store and the database only after the child
exits cleanly, in the same transaction that marks the job succeeded.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from engine.errors import EngineError
from engine.jobs import sandbox
from engine.jobs.hostlock import host_lock
from engine.jobs.identity import worker_id
from engine.jobs.kinds import KINDS
from storage import jobs as jobstore
from storage.artifacts import StoreError
from storage.db import is_locked, read_scope, retry_locked, session_scope
from storage.records import JobRecord
from storage.settings import Settings, get_settings

log = logging.getLogger("trimline.runner")

PR_SET_PDEATHSIG = 1
HEARTBEAT_S = 2.0
POLL_S = 0.25
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "TZ", "PYTHONPATH", "VIRTUAL_ENV",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # never the database or queue URLs: the child has no use for them

SIGNAL_NAMES = {s.value: s.name for s in signal.Signals}
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
MAX_BEAT_BACKOFF_S = 10.0
FINISH_GIVE_UP_S = 600.0  # recording a job's end waits out locks this long before the reaper takes over
STOPPING = threading.Event()  # set by the worker on SIGTERM: running jobs go back to the queue


def child_env(settings: Settings) -> dict[str, str]:
    """Only what the child needs: no credentials, no proxy settings, no tokens from the parent."""
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
    env.update(TRIMLINE_HOME=str(settings.home), ORT_DISABLE_TELEMETRY="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")]))
    return env


def _limits() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # If the worker dies (even by SIGKILL) its child must not run on unsupervised.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    big = 64 << 30
    resource.setrlimit(resource.RLIMIT_FSIZE, (big, big))
    for limit, value in ((resource.RLIMIT_NOFILE, 65536), (resource.RLIMIT_NPROC, 16384)):
        hard = resource.getrlimit(limit)[1]
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (cap, cap))


def input_paths(spec: Any, settings: Settings) -> list[Path]:
    """The stored files a job's child may read: every model, data set and upload its spec names (a
    ``path`` beside a ``format``, ``sha256`` or ``id``; the ``upload``; the ``peak_cache``), and only those
    lying in the artifact store (or its local cache), the upload folder or the hardware cache. Nothing
    else is bound."""
    found: set[str] = set()
    stack = [spec]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("path"), str) and ({"format", "sha256", "id"} & item.keys()):
                found.add(item["path"])
            found.update(v for k, v in item.items() if k in ("upload", "peak_cache") and isinstance(v, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    allowed = [settings.store_dir.resolve(), settings.cache_dir.resolve(), settings.upload_dir.resolve(),
               (settings.home / "hardware").resolve()]
    store = settings.store_url.removeprefix("file://")
    if "://" not in store:  # a store folder shared by several hosts, outside the home
        allowed.append(Path(store).expanduser().resolve())
    paths = {Path(p).resolve() for p in found}
    return sorted(p for p in paths if p.exists() and any(p.is_relative_to(a) for a in allowed))


def _tree_rss_mb(proc: psutil.Process) -> float:
    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return 0.0


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class _Outcome:
    status: str
    error: str | None = None
    code: int = 0


def _watch(job: JobRecord, proc: subprocess.Popen, scratch: Path, worker: str, settings: Settings) -> _Outcome:
    """Poll the child until it exits, keeping the lease alive and enforcing time, memory and cancel."""
    started = time.monotonic()
    last_beat = 0.0
    ps = psutil.Process(proc.pid)
    progress_file = scratch / "progress.json"
    last_progress = None
    next_beat, missed = 0.0, 0
    while proc.poll() is None:
        now = time.monotonic()
        if STOPPING.is_set():  # the worker is shutting down: hand the job back rather than leave it running
            _kill_group(proc.pid)
            proc.wait()
            return _Outcome("requeue", "its worker was stopped")
        if now >= next_beat:
            cancel = _routine_write(job, "heartbeat", lambda s: jobstore.heartbeat(s, job.id, worker))
            missed = missed + 1 if cancel is None else 0
            next_beat = now + min(HEARTBEAT_S * 2 ** missed, MAX_BEAT_BACKOFF_S)
            if cancel:
                _kill_group(proc.pid)
                proc.wait()
                return _Outcome("cancelled", "cancelled by request")
        if progress_file.exists():
            try:
                data = json.loads(progress_file.read_text())
            except (OSError, ValueError):
                data = None
            if data and data != last_progress:
                stored = _routine_write(job, "progress", lambda s: jobstore.set_progress(
                    s, job.id, data["progress"], data["message"]) or True)
                if stored:
                    last_progress = data  # otherwise the same progress is written on the next round
        if now - started > job.timeout_s:
            _kill_group(proc.pid)
            proc.wait()
            return _Outcome("failed", f"the job took longer than its limit of {job.timeout_s:.0f} s and was stopped")
        rss = _tree_rss_mb(ps)
        if rss > settings.job_memory_mb:
            _kill_group(proc.pid)
            proc.wait()
            return _Outcome("failed", f"the job used {rss:.0f} MB of memory, more than its limit of "
                                      f"{settings.job_memory_mb} MB (TRIMLINE_JOB_MEMORY_MB), and was stopped")
        try:  # returns as soon as the child exits: a short job's end is not rounded up to the next poll
            proc.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc.pid)  # stray grandchildren never outlive their job
    return _Outcome("exited", code=proc.returncode)


def _routine_write(job: JobRecord, what: str, work):  # noqa: ANN001, ANN202
    """A heartbeat or progress write. When another process holds the database's write lock past the
    busy timeout it is skipped (None) and the watch loop tries again later: a lock never fails a job."""
    try:
        with session_scope() as s:
            return work(s)
    except Exception as exc:
        if not is_locked(exc):
            raise
        log.warning("job %s: %s not written, the database is locked; trying again shortly", job.id, what)
        return None


def _crash_sentence(kind: str, code: int) -> str:
    """Why a child died of a signal. Only a crash it raised itself (a segfault in a parser) blames the file."""
    sig = -code
    name = SIGNAL_NAMES.get(sig, f"signal {sig}")
    if sig == signal.SIGKILL:
        return ("the job's process was killed (SIGKILL) from outside, most likely because the machine ran out of "
                "memory; close other programs or run fewer jobs at once, then run it again")
    if sig in STOP_SIGNALS:
        return f"the job's process was stopped from outside ({name}); run it again"
    if sig in CRASH_SIGNALS and kind in ("import", "dataset_import"):
        return f"the file is damaged (its parser crashed with {name})"
    return f"the job's process crashed with {name}; the log holds what it printed"


def run_job(job_id: int, worker: str | None = None) -> JobRecord:
    """Claim and run ``job_id`` to its end. Returns the final record (or the current one if not claimed)."""
    settings = get_settings()
    worker = worker or worker_id()

    def claim():  # noqa: ANN202
        with session_scope() as s:
            return jobstore.get_job(s, job_id) if jobstore.claim(s, job_id, worker) else None

    job = retry_locked(claim, f"job {job_id}: claiming it", give_up_s=FINISH_GIVE_UP_S)
    if job is None:
        with session_scope() as s:
            return jobstore.get_job(s, job_id)
    kind = KINDS[job.kind]
    scratch = settings.scratch_dir / f"job-{job.id}-{job.attempts}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.log_dir / f"job-{job.id}.log"
    try:
        params = kind.params_of(job)
        with session_scope() as s:
            spec = kind.prepare(s, job, params)
        spec.update(job_id=job.id, kind=job.kind, params=params.model_dump(mode="json", by_alias=True))
        (scratch / "spec.json").write_text(json.dumps(spec, default=str))
        outcome = _run_child(job, kind.exclusive, scratch, log_path, worker, settings, input_paths(spec, settings),
                             kind.sandboxed)
        _record(job, lambda s: _finish(s, job, worker, outcome, scratch, kind, params))
    except (EngineError, StoreError) as exc:  # StoreError: the outputs could not be published; no row was kept
        _record(job, lambda s: jobstore.finish(s, job.id, worker, "failed", error=str(exc)))
    except KeyboardInterrupt:  # Ctrl-C on a CLI running the job itself: nothing of it stays behind
        _record(job, lambda s: jobstore.finish(s, job.id, worker, "cancelled", error="interrupted before it finished"))
        _discard_upload(_final(job.id), settings)
        raise
    except Exception as exc:
        log.exception("job %s: unexpected failure in the runner", job.id)
        with log_path.open("a") as fh:
            fh.write(f"runner error: {type(exc).__name__}: {exc}\n")
        _record(job, lambda s: jobstore.finish(s, job.id, worker, "failed", error=_unexpected(exc)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    final = _final(job.id)  # a job handed back by a stopping worker is queued: the next worker's sweep takes it
    _discard_upload(final, settings)
    return final


def _record(job: JobRecord, work) -> None:  # noqa: ANN001
    """Write a job's end in one transaction, waiting out a locked database (a lock never loses a job)."""
    def attempt() -> None:
        with session_scope() as s:
            work(s)
    retry_locked(attempt, f"job {job.id}: recording its end", give_up_s=FINISH_GIVE_UP_S)


def _final(job_id: int) -> JobRecord:
    with read_scope() as s:
        return jobstore.get_job(s, job_id)


def _unexpected(exc: Exception) -> str:
    from engine.failures import sentence_for

    return sentence_for(exc) or f"unexpected {type(exc).__name__}: {exc}"


def _discard_upload(job: JobRecord, settings: Settings) -> None:
    from engine.jobs.uploads import discard_upload

    discard_upload(job)


def _run_child(job: JobRecord, exclusive: bool, scratch: Path, log_path: Path, worker: str,
               settings: Settings, inputs: list[Path], sandboxed: bool = True) -> _Outcome:
    def waiting() -> None:
        with session_scope() as s:
            jobstore.set_progress(s, job.id, 0.0, "waiting for a running benchmark to finish")

    def cancelled() -> bool:
        with session_scope() as s:
            return jobstore.heartbeat(s, job.id, worker)

    with host_lock(settings.home / "host.lock", exclusive, on_wait=waiting, should_stop=cancelled) as held:
        if not held:
            return _Outcome("cancelled", "cancelled by request")
        argv = [sys.executable, "-m", "engine.jobs.child", str(scratch)]
        if sandboxed:
            launch = sandbox.prepare(scratch, inputs, argv, _limits, settings.home)
            walls = sandbox.describe()
        else:  # opens no uploaded file; reaches a server on this host (engine.jobs.kinds.loadtesting)
            (scratch / "tmp").mkdir(exist_ok=True)
            (scratch / "home").mkdir(exist_ok=True)
            launch, walls = sandbox.Launch(argv=argv, preexec=_limits), "limits only: it opens no uploaded file"
        env = {**child_env(settings), "TMPDIR": str(scratch / "tmp"), "HOME": str(scratch / "home")}
        with log_path.open("ab") as logfh:
            logfh.write(f"--- attempt {job.attempts} on {worker} (sandbox: {walls})\n".encode())
            logfh.flush()
            proc = subprocess.Popen(
                launch.argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=logfh,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=launch.preexec,
            )
            try:
                return _watch(job, proc, scratch, worker, settings)
            except BaseException:
                _kill_group(proc.pid)
                proc.wait()
                raise


def _finish(session, job: JobRecord, worker: str, outcome: _Outcome, scratch: Path, kind, params) -> None:  # noqa: ANN001
    if outcome.status == "requeue":
        jobstore.release(session, job.id, worker, outcome.error or "")
        return
    if outcome.status != "exited":
        live = scratch / "live.json"
        result = None
        if kind.partial is not None and live.exists():
            output = kind.output.model_validate_json(live.read_text())
            result = kind.result.model_validate(kind.partial(session, job, params, output, scratch)).model_dump(mode="json")
        jobstore.finish(session, job.id, worker, outcome.status, error=outcome.error, result=result)
        return
    result_file, error_file = scratch / "result.json", scratch / "error.json"
    if result_file.exists():
        output = kind.output.model_validate_json(result_file.read_text())
        result = kind.result.model_validate(kind.commit(session, job, params, output, scratch))
        jobstore.finish(session, job.id, worker, "succeeded", result=result.model_dump(mode="json"))
    elif error_file.exists():
        jobstore.finish(session, job.id, worker, "failed", error=json.loads(error_file.read_text())["error"])
    elif outcome.code < 0:
        jobstore.finish(session, job.id, worker, "failed", error=_crash_sentence(job.kind, outcome.code))
    else:
        jobstore.finish(session, job.id, worker, "failed",
                        error=f"the job's process exited with code {outcome.code} without a result; see the job log")
