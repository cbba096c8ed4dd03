"""The worker loop: announce this process, re-queue what dead workers left, consume the queue."""
from __future__ import annotations

import logging
import os
import socket
import threading

from engine.jobs import queue
from engine.jobs.identity import worker_id
from storage import jobs as jobstore
from storage.db import session_scope

log = logging.getLogger("trimline.jobs")

BEAT_S = 3.0


def run_worker(threads: int = 1, stop: threading.Event | None = None) -> None:
    """Consume the queue until stopped. The caller has migrated the database (``engine.api.ready``)."""
    me = worker_id()
    stop = stop or threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                with session_scope() as s:
                    jobstore.worker_beat(s, me, os.getpid(), socket.gethostname())
            except Exception as exc:  # keep beating through a transient lock or disk hiccup
                log.warning("worker heartbeat failed: %s", exc)
            stop.wait(BEAT_S)

    threading.Thread(target=beat, name="trimline-worker-beat", daemon=True).start()
    queue.reap_and_requeue()
    with session_scope() as s:
        pending = jobstore.queued_ids(s)
    for job_id in pending:  # jobs queued while no worker ran (their queue message may be gone)
        queue.enqueue(job_id)
    consumer = queue.get_huey().create_consumer(workers=threads, worker_type="thread", periodic=True,
                                                 initial_delay=0.1, max_delay=1.0, backoff=1.15)
    try:
        consumer.run()
    finally:
        stop.set()
        with session_scope() as s:
            jobstore.worker_gone(s, me)
