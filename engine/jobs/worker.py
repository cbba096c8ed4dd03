"""The worker loop: announce this process (host, labels, fingerprint), re-queue what dead workers left,
consume the queue, and sweep the jobs table for what a lost wake-up left queued."""
from __future__ import annotations

import logging
import threading

from engine.jobs import housekeeping, placement, queue, runner
from engine.jobs.identity import worker_id
from storage import jobs as jobstore
from storage.db import session_scope

log = logging.getLogger("trimline.jobs")

BEAT_S = 3.0
REAP_EVERY = 5  # sweeps


def run_worker(threads: int = 1, stop: threading.Event | None = None, labels: tuple[str, ...] = ()) -> None:
    """Consume the queue until stopped. The caller has migrated the database (``engine.api.ready``)."""
    from engine.jobs.sandbox import layers

    me = worker_id()
    stop = stop or threading.Event()
    profile = placement.start(me, labels, threads)
    for layer in layers():  # which walls this machine allows around each job, once per worker
        log.info("job sandbox %s: %s (%s)", layer["name"], "on" if layer["active"] else "off", layer["detail"])

    def beat() -> None:
        while not stop.is_set():
            try:
                placement.beat(profile)
            except Exception as exc:  # keep beating through a transient lock, a database restart or a disk hiccup
                log.warning("worker heartbeat failed: %s", exc)
            stop.wait(BEAT_S)

    def sweep() -> None:  # the jobs table is the truth: pick up what a lost or foreign wake-up left queued
        rounds = 0
        while not stop.wait(placement.SWEEP_S):
            rounds += 1
            try:
                if rounds % REAP_EVERY == 0:  # a dead host's jobs come back within a lease, not a minute
                    housekeeping.tidy(force=True)  # and dead jobs' scratch and uploads are swept
                placement.sweep(profile)
            except Exception as exc:
                log.warning("worker sweep failed: %s", exc)

    threading.Thread(target=beat, name="trimline-worker-beat", daemon=True).start()
    threading.Thread(target=sweep, name="trimline-worker-sweep", daemon=True).start()
    housekeeping.tidy(force=True)  # re-queue what dead workers left, sweep their scratch and uploads
    with session_scope() as s:
        pending = jobstore.queued_ids(s)
    for job_id in pending:  # jobs queued while no worker ran (their queue message may be gone)
        queue.enqueue(job_id)
    # SIGTERM (what `trimline up` sends) is a graceful stop: running jobs hand themselves back to the
    # queue (runner.STOPPING) and the consumer waits for them, so no job is left "running".
    # Redis wakes a worker at once (a blocking pop); the SQLite queue is polled, and its back-off stops at
    # a quarter second so that a job submitted to an idle worker starts within about that.
    consumer = queue.get_huey().create_consumer(workers=threads, worker_type="thread", periodic=True,
                                                 initial_delay=0.05, max_delay=0.25, backoff=1.15,
                                                 graceful_signal="TERM")
    huey_handler = consumer._handle_signal

    def on_signal(signum, frame):  # noqa: ANN001
        runner.STOPPING.set()
        huey_handler(signum, frame)

    consumer._handle_signal = on_signal
    try:
        consumer.run()
    finally:
        stop.set()
        placement.stop()
        with session_scope() as s:
            jobstore.worker_gone(s, me)
