"""Load: N small jobs across W workers on one PostgreSQL, one Redis queue and one shared store, while
the dashboard's pages are rendered.

Starts a throwaway PostgreSQL and Redis (as the tests do) and W real `trimline worker` processes, each
with its own TRIMLINE_HOME (as on separate hosts). Seeds a tiny ONNX family (root, one optimized child,
a benchmark of each) so that every page has something to draw, then submits N export jobs, never more
than W at a time, so that a worker is free for every submission. Meanwhile a separate process (as the
dashboard is) renders Models, Jobs and Compare over and over with Streamlit's AppTest. It prints:

- counts: submitted, succeeded, failed, lost (never ended), runs (``--- attempt`` lines in every worker's job
  logs) and jobs run more than once;
- dispatch latency submit -> running (``started_at - created_at`` in the jobs table): p50, p95, max;
- each page's render time under that load: p50 and max (goal: under 2 s).

Exit code 0 when every job succeeded, none was lost and none ran twice.

Run: .venv/bin/python bench/dispatch_bench.py [--jobs 1000] [--workers 4]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

PAGES = ("models", "jobs", "compare")
FAST_BENCH = {"batches": [1], "threads": [1], "time_budget_s": 0.2, "profile": False}
DISPATCH_GOAL_MS, RENDER_GOAL_S = 250, 2.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def render_loop(pause_s: float) -> None:
    """In its own process: one dashboard session switching between the pages, one JSON line per render,
    until terminated. (A new session per render would also time Streamlit's scan of installed packages
    for components, which a user pays once.)"""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120)
    at.run()  # the session's first script run (Home)
    first = True
    while True:
        for page in PAGES:
            start = time.perf_counter()
            at.switch_page(f"app_pages/{page}.py").run()
            seconds = time.perf_counter() - start
            errors = [e.value for e in at.error] + [str(e.value) for e in at.exception]
            print(json.dumps({"page": page, "s": seconds, "errors": errors, "warm": not first}), flush=True)
        first = False  # the first round imports the pages' libraries: not a page's cost
        time.sleep(pause_s)


def _read_renders(proc: subprocess.Popen, out: list[dict]) -> None:
    for line in proc.stdout:
        if line.startswith("{"):
            out.append(json.loads(line))


def _seed(tmp: Path) -> int:
    """A family with a root, an optimized child and a benchmark of each; returns the root's id."""
    from engine import api
    from tests.app.conftest import write_tiny_onnx

    model_id = api.wait_job(api.submit_import(write_tiny_onnx(tmp / "tiny.onnx")).id, timeout_s=600).result["model_id"]
    child = api.wait_job(api.submit_optimize(model_id, "onnx-optimize").job.id, timeout_s=600).result["model_id"]
    for mid in (model_id, child):
        api.wait_job(api.submit_benchmark(mid, FAST_BENCH).id, timeout_s=600)
    return model_id


def _runs_per_job(tmp: Path) -> Counter:
    """How many times each job was started, on any host (one ``--- attempt`` line per start)."""
    runs: Counter = Counter()
    for log in tmp.glob("host-*/logs/job-*.log"):
        runs[int(re.match(r"job-(\d+)\.log", log.name)[1])] += log.read_text(errors="replace").count("--- attempt")
    return runs


def _load(n_jobs: int, n_workers: int, model_id: int) -> tuple[list[int], float]:
    """Submit ``n_jobs`` exports, never more than ``n_workers`` queued or running; wait for all to end."""
    from engine import api
    from storage import jobs as jobstore
    from storage.db import read_scope

    def active() -> int:  # one query: counting queued and running separately misses a job being claimed
        with read_scope() as s:
            return len(jobstore.active_jobs(s))

    started = time.monotonic()
    submitted: list[int] = []
    while len(submitted) < n_jobs:
        if active() < n_workers:
            submitted.append(api.submit_export(model_id, "onnx").id)
        else:
            time.sleep(0.01)
    while active():
        time.sleep(0.2)
    return submitted, time.monotonic() - started


def _report(submitted: list[int], elapsed: float, tmp: Path, n_workers: int, renders: list[dict]) -> bool:
    from storage import jobs as jobstore
    from storage.db import read_scope

    wanted = set(submitted)
    with read_scope() as s:
        rows = [j for j in jobstore.list_jobs(s, limit=len(submitted) + 50) if j.id in wanted]
    ok = [j for j in rows if j.status == "succeeded"]
    runs = _runs_per_job(tmp)
    twice = sorted(j for j in wanted if runs[j] > 1)
    failed = [j for j in rows if j.status in ("failed", "cancelled")]
    lost = len(submitted) - len(ok) - len(failed)  # never ended, or gone from the table
    latency = [(j.started_at - j.created_at).total_seconds() * 1e3 for j in rows if j.started_at]
    took = [(j.finished_at - j.started_at).total_seconds() for j in ok]
    per_worker = Counter(j.worker or "-" for j in rows)
    print(f"jobs: submitted {len(submitted)}, succeeded {len(ok)}, failed {len(failed)}, lost {lost}, "
          f"runs {sum(runs[j] for j in wanted)}, run more than once {len(twice)}{' ' + str(twice[:10]) if twice else ''}"
          + (f"; first failure: {failed[0].error}" if failed else ""))
    print(f"per worker ({n_workers}): {sorted(per_worker.values())}")
    p95 = _pct(latency, 0.95)
    print(f"dispatch latency submit->running: p50 {statistics.median(latency):.0f} ms, p95 {p95:.0f} ms, "
          f"max {max(latency):.0f} ms (n={len(latency)}; goal p95 <= {DISPATCH_GOAL_MS} ms: "
          f"{'met' if p95 <= DISPATCH_GOAL_MS else 'NOT met'})")
    print(f"job run time started->finished: p50 {statistics.median(took):.2f} s; throughput {len(ok) / elapsed:.1f} "
          f"jobs/s over {elapsed:.0f} s")
    for page in PAGES:
        times = [r["s"] for r in renders if r["page"] == page and r["warm"]]
        errors = {e for r in renders if r["page"] == page for e in r["errors"]}
        if times:
            print(f"{page} page render under load: p50 {statistics.median(times):.2f} s, max {max(times):.2f} s "
                  f"(n={len(times)}; goal < {RENDER_GOAL_S:.0f} s: {'met' if max(times) < RENDER_GOAL_S else 'NOT met'})"
                  + (f"; errors: {sorted(errors)}" if errors else ""))
        else:
            print(f"{page} page: no render finished while the load ran")
    return lost == 0 and not failed and not twice


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--render-loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--render-pause", type=float, default=2.0, help="seconds between rounds of page renders")
    args = parser.parse_args()
    if args.render_loop:
        render_loop(args.render_pause)
        return 0

    from tests.servers import PostgresServer, RedisServer, Workers, dies_with_parent, stop_process

    tmp = Path(tempfile.mkdtemp(prefix="trimline-dispatch-"))
    with PostgresServer() as pg, RedisServer() as rd:
        os.environ.update(TRIMLINE_HOME=str(tmp / "client"), TRIMLINE_DATABASE_URL=pg.url(pg.create_database()),
                          TRIMLINE_QUEUE_URL=rd.url(), TRIMLINE_STORE_URL=str(tmp / "shared-store"))
        from engine import api

        api.ready()
        model_id = _seed(tmp)  # no worker yet: these run here, through the same sandboxed runner
        workers, renderer = Workers(), None
        try:
            for i in range(args.workers):
                workers.start(tmp / f"host-{i}")
            renderer = subprocess.Popen([sys.executable, __file__, "--render-loop", "--render-pause",
                                         str(args.render_pause)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, start_new_session=True, preexec_fn=dies_with_parent())
            renders: list[dict] = []
            reader = threading.Thread(target=_read_renders, args=(renderer, renders), daemon=True)
            reader.start()
            while not renders:  # the dashboard process is up and has drawn each page once
                time.sleep(0.2)
            submitted, elapsed = _load(args.jobs, args.workers, model_id)
            stop_process(renderer, signal.SIGTERM)
            reader.join(timeout=10)
            return 0 if _report(submitted, elapsed, tmp, args.workers, renders) else 1
        finally:
            stop_process(renderer, signal.SIGTERM)
            workers.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
