"""Load: N small jobs across W workers on one PostgreSQL, one Redis queue and one shared store.

Starts a throwaway PostgreSQL and Redis (as the tests do), W real `trimline worker` processes, each
with its own TRIMLINE_HOME (as on separate hosts), imports a tiny ONNX model, then submits N export
jobs, keeping at most W in flight so that a worker is free for every submission. It prints:
- counts: submitted, succeeded, and runs (``--- attempt`` lines in every worker's job logs): none lost,
  none run twice;
- dispatch latency, submit -> running (``started_at - created_at`` from the jobs table), p50/p95/max;
- how long the Jobs and Models pages take to render (Streamlit's AppTest) while the load runs.

Run: .venv/bin/python bench/dispatch_bench.py [--jobs 1000] [--workers 4]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _render(page: str) -> float:
    from streamlit.testing.v1 import AppTest

    start = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    return time.perf_counter() - start


def _render_times(stop: threading.Event, out: list[tuple[str, float]]) -> None:
    while not stop.is_set():
        for page in ("jobs", "models"):
            out.append((page, _render(page)))
        stop.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    from tests.app.conftest import write_tiny_onnx
    from tests.servers import PostgresServer, RedisServer

    tmp = Path(tempfile.mkdtemp(prefix="trimline-dispatch-"))
    pg, rd = PostgresServer().start(), RedisServer().start()
    os.environ.update(TRIMLINE_HOME=str(tmp / "client"), TRIMLINE_DATABASE_URL=pg.url(pg.create_database()),
                      TRIMLINE_QUEUE_URL=rd.url(), TRIMLINE_STORE_URL=str(tmp / "shared-store"))
    from engine import api
    from storage import jobs as jobstore
    from storage.db import session_scope

    workers: list[subprocess.Popen] = []
    try:
        api.ready()
        model_id = api.wait_job(api.submit_import(write_tiny_onnx(tmp / "tiny.onnx")).id).result["model_id"]
        for i in range(args.workers):
            env = {**os.environ, "TRIMLINE_HOME": str(tmp / f"host-{i}")}
            workers.append(subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env, cwd=ROOT,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True))
        while len(api.list_workers()) < args.workers:
            time.sleep(0.2)

        for page in ("jobs", "models"):  # the first render imports Streamlit and the pages: not a page's cost
            _render(page)
        stop, renders = threading.Event(), []
        renderer = threading.Thread(target=_render_times, args=(stop, renders), daemon=True)
        renderer.start()
        started = time.monotonic()
        submitted: list[int] = []
        while len(submitted) < args.jobs:
            with session_scope() as s:
                busy = len(jobstore.list_jobs(s, limit=args.workers * 4, status="running")) + \
                    len(jobstore.list_jobs(s, limit=args.workers * 4, status="queued"))
            if busy < args.workers:
                submitted.append(api.submit_export(model_id, "onnx").id)
            else:
                time.sleep(0.01)
        while True:
            with session_scope() as s:
                pending = [j for j in jobstore.list_jobs(s, limit=args.jobs + 10) if j.id in set(submitted) and not j.done]
            if not pending:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        stop.set()
        renderer.join(timeout=120)

        with session_scope() as s:
            rows = [j for j in jobstore.list_jobs(s, limit=args.jobs + 10) if j.id in set(submitted)]
        ok = [j for j in rows if j.status == "succeeded"]
        latency = [(j.started_at - j.created_at).total_seconds() * 1e3 for j in rows if j.started_at]
        runs = sum(p.read_text().count("--- attempt") for p in tmp.glob("host-*/logs/job-*.log"))
        per_worker: dict[str, int] = {}
        for j in rows:
            per_worker[j.worker or "-"] = per_worker.get(j.worker or "-", 0) + 1
        print(f"jobs submitted {len(submitted)}, succeeded {len(ok)}, failed {len(rows) - len(ok)}, "
              f"runs logged {runs}, attempts>1: {sum(1 for j in rows if j.attempts > 1)}")
        print(f"per worker: {sorted(per_worker.values())}")
        print(f"dispatch latency submit->running: p50 {statistics.median(latency):.0f} ms, "
              f"p95 {_pct(latency, 0.95):.0f} ms, max {max(latency):.0f} ms (n={len(latency)})")
        print(f"throughput {len(ok) / elapsed:.1f} jobs/s over {elapsed:.0f} s with {args.workers} workers")
        for page in ("jobs", "models"):
            times = [t for p, t in renders if p == page]
            if times:
                print(f"{page} page render while loaded: max {max(times):.2f} s, median {statistics.median(times):.2f} s "
                      f"(n={len(times)})")
        return 0 if len(ok) == len(submitted) == runs else 1
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGINT)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        pg.stop()
        rd.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
