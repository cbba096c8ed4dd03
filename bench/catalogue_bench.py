"""Time the dashboard's pages on a large catalogue, server-side, through Streamlit's AppTest.

    .venv/bin/python bench/catalogue_bench.py [--variants 1000] [--measurements 100000] [--home DIR]
                                              [--profile compare]

Builds the catalogue (bench/catalogue.py) in a fresh TRIMLINE_HOME (or reuses ``--home`` when it already
holds one), then opens Models, Compare, Jobs and Data sets three times each and prints seconds: the first
visit (a fresh dashboard process), the next visit (nothing changed: pages reuse what they read for this
catalogue version), and a visit after a new measurement (the version moved: everything is read again).
The goal is at most 1.5 s per page.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_S = 1.5
PAGES = ("models", "compare", "jobs", "datasets")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--measurements", type=int, default=100_000)
    parser.add_argument("--home", type=Path, help="reuse (or create) the catalogue here")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages to time")
    parser.add_argument("--profile", metavar="PAGE", help="also print where PAGE's visit after a change spends its "
                                                           "time (cProfile of the page script)")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="catalogue-bench-"))
    os.environ["TRIMLINE_HOME"] = str(home)
    made = (home / "trimline.db").exists()
    if not made:
        from bench.catalogue import build

        t0 = time.perf_counter()
        info = build(home, args.variants, args.measurements)
        print(f"built {info['variants']} variants and {info['measurements']} measurements in {home} "
              f"({time.perf_counter() - t0:.0f} s)")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=600)
    at.run()
    pages = [p for p in args.pages.split(",") if (ROOT / "app" / "app_pages" / f"{p}.py").exists()]
    times: dict[str, list[tuple[float, float]]] = {p: [] for p in pages}
    rounds = ("first visit", "next visit", "after a change")
    for n, _ in enumerate(rounds):
        if n == 2:
            _add_measurement()
        for name in pages:
            time.sleep(2.1)  # past any short-lived cache: only the catalogue version may keep a read
            profiling = args.profile == name and n == 2
            t0, c0 = time.perf_counter(), time.process_time()
            with _profiled(profiling) as profile:
                at.switch_page(f"app_pages/{name}.py").run()
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))
            if profiling:
                profile.sort_stats("cumulative").print_stats(30)
            if at.exception:
                print(f"{name}: the page raised {[e.value for e in at.exception]}")
    # CPU seconds (this process: the page script and SQLite) grow less than wall seconds when other programs
    # load the machine; the first visit also pays for importing plotly and pandas once per process
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; goal <= {GOAL_S} s (server-side, AppTest)")
    print(f"{'page':<10}" + "".join(f" {r + ' s':>16} {'CPU s':>6}" for r in rounds))
    for name in pages:
        print(f"{name:<10}" + "".join(f" {wall:>16.2f} {cpu:>6.2f}" for wall, cpu in times[name]))
    worst = max(max(t[1][0], t[2][0]) for t in times.values())
    print(f"worst later visit {worst:.2f} s: {'within' if worst <= GOAL_S else 'OVER'} the {GOAL_S} s goal")


@contextmanager
def _profiled(on: bool) -> Iterator[pstats.Stats | None]:
    """cProfile of the page script while ``on``: AppTest runs it in a thread of its own, so the profiler is
    switched on inside that thread, around the script run."""
    if not on:
        yield None
        return
    from streamlit.runtime.scriptrunner import script_runner

    profile, original = cProfile.Profile(), script_runner.ScriptRunner._run_script

    def run(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        profile.enable()
        try:
            return original(self, *a, **k)
        finally:
            profile.disable()

    script_runner.ScriptRunner._run_script = run
    stats = pstats.Stats()
    try:
        yield stats
    finally:
        script_runner.ScriptRunner._run_script = original
        stats.add(profile)


def _add_measurement() -> None:
    """Copy the newest measurement: the catalogue's version moves, so pages read the family again."""
    from sqlalchemy import insert, select

    from storage.db import session_scope
    from storage.tables import Measurement

    with session_scope() as s:
        row = s.scalars(select(Measurement).order_by(Measurement.id.desc()).limit(1)).one()
        s.execute(insert(Measurement), [{"model_id": row.model_id, "hardware_id": row.hardware_id, "kind": row.kind,
                                         "dataset_id": row.dataset_id, "runtime": row.runtime, "summary": row.summary,
                                         "samples": {}}])

if __name__ == "__main__":
    main()
