"""Time the dashboard's pages on a large catalogue, server-side, through Streamlit's AppTest.

    .venv/bin/python bench/catalogue_bench.py [--variants 1000] [--measurements 100000] [--home DIR]

Builds the catalogue (bench/catalogue.py) in a fresh TRIMLINE_HOME (or reuses ``--home`` when it already
holds one), then opens Models, Compare and Jobs twice each (first visit, then a rerun) and prints seconds.
The goal is at most 1.5 s per page.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

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
    for _ in range(2):  # the first round also pays for imports (plotly, pandas) and empty caches
        for name in pages:
            time.sleep(2.1)  # past the pages' 2 s query cache: every visit reads the database
            t0, c0 = time.perf_counter(), time.process_time()
            at.switch_page(f"app_pages/{name}.py").run()
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))
            if at.exception:
                print(f"{name}: the page raised {[e.value for e in at.exception]}")
    # CPU seconds (this process: the page script and SQLite) do not grow when other programs load the machine
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; goal <= {GOAL_S} s (server-side, AppTest)")
    print(f"{'page':<10} {'first visit s':>14} {'next visit s':>13} {'next visit CPU s':>17}")
    for name in pages:
        print(f"{name:<10} {times[name][0][0]:>14.2f} {times[name][1][0]:>13.2f} {times[name][1][1]:>17.2f}")
    worst = max(t[1][0] for t in times.values())
    print(f"worst next visit {worst:.2f} s: {'within' if worst <= GOAL_S else 'OVER'} the {GOAL_S} s goal")


if __name__ == "__main__":
    main()
