"""Which worker runs which job: a worker's labels, hardware fingerprint and library versions.

Every job may run on any worker unless it names a ``target`` (a label such as ``edge``, a host name,
or a hardware fingerprint or its first 8+ characters). A worker whose library versions differ from
the catalogue's would convert and compress differently: it says so, and takes only measurements
targeted at it (its own versions are part of the fingerprint those measurements record). The queue
only wakes workers; a sweep over the jobs table picks up what a lost wake-up (or a wake-up taken by
a worker that may not run the job) left behind, so a lost message costs latency, never a job.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import metadata
from typing import Any, Callable

from storage import jobs as jobstore
from storage import workers as registry
from storage.db import session_scope
from storage.records import JobRecord
from storage.tables import utcnow

log = logging.getLogger("trimline.worker")

VERSION_PACKAGES = ("onnxruntime", "tensorflow", "tf-keras", "tf2onnx", "onnx", "onnxconverter-common", "numpy",
                    "tensorflow-model-optimization")
MEASURING = ("benchmark", "ab_compare", "loadtest")
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
SWEEP_S = 1.0
SWEEP_GRACE_S = 1.5  # a job queued this long has lost its wake-up, or it went to a worker that may not run it
PASS_ON_PAUSE_S = 0.05


def library_versions() -> dict[str, str | None]:
    out = {}
    for package in VERSION_PACKAGES:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def hardware_fingerprint() -> str:
    """The same fingerprint a benchmark on this host records with its measurement."""
    from engine.jobs.kinds.common import logical_cores
    from engine.measure.hardware import fingerprint
    from storage.measurements import fingerprint_of

    hw = fingerprint()
    return fingerprint_of(hw.get("cpu", "unknown"), logical_cores(hw), hw)


def check_label(label: str) -> str:
    if not LABEL.match(label):
        raise ValueError(f"label {label!r} is not a plain word (letters, digits, '.', '_', '-'; up to 60)")
    return label


@dataclass
class WorkerProfile:
    id: str
    host: str
    labels: tuple[str, ...]
    fingerprint: str
    versions: dict[str, Any]
    differs: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # package -> (catalogue's, this worker's)
    slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(1))

    @property
    def note(self) -> str | None:
        if not self.differs:
            return None
        diffs = ", ".join(f"{p} {mine} (catalogue: {theirs})" for p, (theirs, mine) in sorted(self.differs.items()))
        return f"library versions differ from the catalogue's: {diffs}; runs only measurements targeted at it"

    def matches(self, target: str | None) -> bool:
        return not target or answers(target, self.labels, self.host, self.fingerprint)

    def may_run(self, job: JobRecord) -> bool:
        if not self.matches(job.target):
            return False
        upload = job.params.get("upload")
        if upload and not _stages(upload):  # staged on another host or home: a worker there imports it
            return False
        return not self.differs or (job.kind in MEASURING and bool(job.target))


def _stages(upload: str) -> bool:
    """Whether this worker's job sandbox can read ``upload``: it lies in this worker's own upload folder
    (the only upload folder a child is given), not merely somewhere on this host's disk."""
    from storage.settings import get_settings

    folder = get_settings().upload_dir.resolve()
    return os.path.exists(upload) and os.path.realpath(upload).startswith(f"{folder}{os.sep}")


_current: WorkerProfile | None = None


def current() -> WorkerProfile | None:
    return _current


def start(worker_id: str, labels: list[str] | tuple[str, ...] = (), threads: int = 1) -> WorkerProfile:
    """Describe this host, compare its versions with the catalogue's, register it, and make it current."""
    global _current
    versions = library_versions()
    with session_scope() as s:
        catalogue = registry.catalogue_versions(s, versions)
    differs = {p: (catalogue.get(p), versions.get(p)) for p in VERSION_PACKAGES if catalogue.get(p) != versions.get(p)}
    profile = WorkerProfile(id=worker_id, host=socket.gethostname(), labels=tuple(dict.fromkeys(labels)),
                            fingerprint=hardware_fingerprint(), versions=versions, differs=differs,
                            slots=threading.BoundedSemaphore(max(1, threads)))
    if profile.note:
        log.warning("worker %s: %s", worker_id, profile.note)
    beat(profile)
    _current = profile
    return profile


def stop() -> None:
    global _current
    _current = None


def beat(profile: WorkerProfile) -> None:
    with session_scope() as s:
        registry.register(s, profile.id, os.getpid(), profile.host, list(profile.labels), profile.fingerprint,
                          profile.versions, profile.note)


def run_from_queue(job_id: int, pass_on: Callable[[int], None]) -> None:
    """A wake-up for ``job_id``: run it here if this worker may, else leave it for one that may.
    ``pass_on(job_id)`` hands the wake-up back to the queue: when this worker is busy, or when the job
    is aimed at another worker that is idle."""
    from engine.jobs.runner import run_job

    profile = current()
    if profile is None:  # not inside a worker (a queue consumer started by hand): the old behaviour
        run_job(job_id)
        return
    with session_scope() as s:
        job = jobstore.get_job(s, job_id)
    if job is None or job.status != "queued":
        return
    if not profile.may_run(job):
        if job.target and _idle_match(job.target, besides=profile.id):
            # An idle worker that answers to the target waits on the queue: hand it this wake-up now
            # rather than leave the job to its sweep. The pause bounds the hand-offs should that worker
            # stop reading the queue without dying.
            time.sleep(PASS_ON_PAUSE_S)
            pass_on(job_id)
        return
    if not profile.slots.acquire(timeout=0.05):
        # Busy with a job its sweep took: pass the wake-up on to a free worker rather than drop it (which
        # would leave the job to a sweep, seconds later), and read no more wake-ups until a slot is free.
        pass_on(job_id)
        profile.slots.acquire()
        profile.slots.release()
        return
    try:
        run_job(job_id, worker=profile.id)
    finally:
        profile.slots.release()


def sweep(profile: WorkerProfile, limit: int = 50) -> int | None:
    """Run one queued job this worker may run, if it has a free slot, once the job has waited longer
    than a wake-up takes (fresh jobs are the queue's: a sweep taking them would only hold a slot that
    the job's own wake-up wants). Returns the job id it ran."""
    from engine.jobs.runner import run_job

    stale = utcnow() - timedelta(seconds=SWEEP_GRACE_S)
    with session_scope() as s:
        queued = jobstore.list_jobs(s, limit=limit, status="queued", oldest_first=True)
    for job in queued:
        if profile.may_run(job) and job.created_at <= stale:
            if not profile.slots.acquire(blocking=False):
                return None
            try:
                final = run_job(job.id, worker=profile.id)
            finally:
                profile.slots.release()
            if final.worker == profile.id:
                return job.id
    return None


def answers(target: str, labels: list[str] | tuple[str, ...], host: str, fingerprint: str | None) -> bool:
    """Whether a worker with these labels, host and fingerprint answers to ``target``."""
    return target in labels or target == host or (len(target) >= 8 and (fingerprint or "").startswith(target))


def live_match(target: str) -> bool:
    """Whether a live worker answers to ``target`` (label, host, or fingerprint prefix)."""
    with session_scope() as s:
        workers = registry.list_workers(s)
    return any(answers(target, w.labels, w.host, w.fingerprint) for w in workers)


def _idle_match(target: str, besides: str) -> bool:
    """Whether another live worker that answers to ``target`` is running no job."""
    with session_scope() as s:
        workers = registry.list_workers(s)
    return any(w.id != besides and w.job is None and answers(target, w.labels, w.host, w.fingerprint) for w in workers)
