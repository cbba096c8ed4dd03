"""Plain table rows and number formats for the pages (pure functions; tests call them directly)."""
from __future__ import annotations

from typing import Any


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def human_count(n: int | float | None) -> str:
    if n is None:
        return "—"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{n:.0f}"


def shape_text(shape: Any) -> str:
    if not isinstance(shape, (list, tuple)):
        return str(shape)
    return "[" + ", ".join("?" if d in (None, -1) or isinstance(d, str) and not d.isdigit() else str(d)
                           for d in shape) + "]"


def model_label(m: dict[str, Any]) -> str:
    """``#3 digits-cnn · onnx (tf2onnx)`` — how a model is named in every picker."""
    how = f" ({m['pass']})" if m.get("pass") and m["pass"] not in m["name"] else ""
    return f"#{m['id']} {m['name']} · {m['format']}{how}"


def models_table(models: list[dict[str, Any]], champions: set[int]) -> list[dict[str, Any]]:
    return [{"id": m["id"], "name": m["name"], "format": m["format"], "pass": m.get("pass") or "upload",
             "parent": m.get("parent_id"), "family": m.get("root_id"), "params": m.get("params"),
             "FLOPs": human_count(m.get("flops")), "size": human_bytes(m.get("size_bytes")),
             "champion": "★" if m["id"] in champions else ""} for m in models]


def io_table(model: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for role, key in (("input", "inputs"), ("output", "outputs")):
        for t in model.get(key) or []:
            rows.append({"role": role, "name": t.get("name"), "shape": shape_text(t.get("shape")),
                         "dtype": t.get("dtype")})
    return rows


def benchmark_rows(results: list[dict[str, Any]], roofline: Any = None) -> list[dict[str, Any]]:
    """One row per benchmark cell; GFLOP/s and share of the CPU's peak where the roofline has them
    (a list of cells, or one dict for every cell)."""
    def cell(r: dict[str, Any]) -> tuple:
        return r.get("batch"), r.get("threads"), r.get("opt_level")

    if isinstance(roofline, dict):
        roof = {cell(r): roofline for r in results}
    else:
        roof = {cell(x): x for x in roofline or [] if isinstance(x, dict)}
    rows = []
    for r in results:
        lat = r.get("latency_ms") or {}
        rf = roof.get(cell(r)) or {}
        rows.append({"batch": r.get("batch"), "threads": r.get("threads"), "opt level": r.get("opt_level"),
                     "p50 ms": lat.get("p50"), "p50 95% CI (ms)": ci_text(lat.get("ci95_p50")),
                     "p90 ms": lat.get("p90"), "p99 ms": lat.get("p99"), "throughput /s": r.get("throughput_per_s"),
                     "peak RSS MB": r.get("peak_rss_mb"), "GFLOP/s": rf.get("achieved_gflops"),
                     "% of peak": rf.get("percent_of_peak"), "runs": r.get("runs"),
                     "stopped by": STOPPED_BY.get(r.get("stopped_by"), r.get("stopped_by"))})
    return rows


def concurrency_rows(load: Any) -> list[dict[str, Any]]:
    """The load test's two setups (one shared session, a session per client) as rows; [] without one."""
    if not isinstance(load, dict):
        return []
    rows = []
    for key, setup in (("shared_session", "one shared session"), ("session_per_client", "a session per client")):
        run = load.get(key)
        if isinstance(run, dict):
            lat = run.get("latency_ms") or {}
            rows.append({"setup": setup, "intra-op threads": run.get("intra_op_threads"), "calls": run.get("runs"),
                         "p50 ms": lat.get("p50"), "p99 ms": lat.get("p99"),
                         "throughput /s": run.get("throughput_per_s")})
    return rows


STOPPED_BY = {"ci": "CI tight enough", "budget": "time budget", "max_runs": "max runs"}


def ci_text(ci: Any) -> str:
    """``[lo, hi]`` of a median's confidence interval as ``lo – hi`` (four significant digits)."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or None in ci:
        return "—"
    return f"{ci[0]:.4g} – {ci[1]:.4g}"


def explanation_tone(lines: list[str]) -> str:
    """``warning`` when the first sentence reports a loss beyond the noise (the rest say why), else ``info``."""
    first = lines[0] if lines else ""
    return "warning" if "slower" in first and "loss is beyond the noise" in first else "info"


def explanation_markdown(lines: list[str]) -> str:
    """The verdict, then each cause as a bullet."""
    if not lines:
        return ""
    return "\n".join([lines[0], ""] + [f"- {line}" for line in lines[1:]]) if len(lines) > 1 else lines[0]


def champion_text(label: str, note: str | None, chosen_at: Any) -> str:
    """``Champion: #3 net · onnx — “2× faster” (chosen 2026-11-26 09:14 UTC)``."""
    return f"Champion: {label}{champion_note(note, chosen_at)}"


def champion_note(note: str | None, chosen_at: Any) -> str:
    """`` — “2× faster” (chosen 2026-11-26 09:14 UTC)``; storage keeps UTC."""
    when = chosen_at.strftime("%Y-%m-%d %H:%M") if hasattr(chosen_at, "strftime") else str(chosen_at or "")[:16]
    said = f" — “{note.strip()}”" if note and note.strip() else " — no note"
    return said + (f" (chosen {when} UTC)" if when else "")


def compare_table(rows: list[dict[str, Any]], front: set[int], champion_id: int | None) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        delta = r.get("delta") or {}
        out.append({"id": r["id"], "variant": f"{r.get('name')} · {r.get('format')}", "pass": r.get("pass") or "root",
                    "latency p50 ms": r.get("latency_p50_ms"), "latency × root": delta.get("latency_p50_ms"),
                    "size": human_bytes(r.get("size_bytes")), "size × root": delta.get("size_bytes"),
                    "accuracy": r.get("accuracy"), "accuracy × root": delta.get("accuracy"),
                    "agreement": r.get("agreement"), "Pareto": "✓" if r["id"] in front else "",
                    "champion": "★" if r["id"] == champion_id else ""})
    return out


def jobs_table(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": j["id"], "kind": j["kind"], "status": j["status"], "progress": j.get("progress") or 0.0,
             "model": (j.get("params") or {}).get("model_id"), "created": j.get("created_at"),
             "worker": j.get("worker") or (f"→ {j['target']}" if j.get("target") else ""),
             "message": j.get("message") or "", "error": j.get("error") or ""} for j in jobs]


def workers_table(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per live worker: where it runs, what it answers to, and what it is doing."""
    return [{"worker": w["id"], "host": w["host"], "labels": ", ".join(w["labels"]) or "-",
             "fingerprint": (w.get("fingerprint") or "")[:12], "heartbeat": w.get("heartbeat"),
             "job": f"#{w['job']}" if w.get("job") else "idle", "note": w.get("note") or ""} for w in workers]


def job_outcome(job: dict[str, Any]) -> str:
    """One sentence on what a finished job left behind."""
    result = job.get("result") or {}
    what = f"Job #{job['id']} ({job['kind']})"
    if job["status"] != "succeeded":
        return f"{what} {job['status']}: {job.get('error') or 'no reason was recorded'}"
    if job["kind"] == "demo":
        return f"{what} succeeded: demo model #{result.get('model_id')} and data set #{result.get('dataset_id')} are ready."
    if "dataset_id" in result and "model_id" not in result:
        return f"{what} succeeded: data set #{result['dataset_id']} is ready."
    if job["kind"] in ("import", "optimize", "recipe"):
        return f"{what} succeeded: model #{result.get('model_id')} is ready."
    if job["kind"] == "export":
        return f"{what} succeeded: {result.get('filename')} ({human_bytes(result.get('size_bytes'))}) is ready."
    return f"{what} succeeded."


def dataset_label(d: dict[str, Any]) -> str:
    labels = "labelled" if d.get("has_labels") else "no labels"
    return f"#{d['id']} {d['name']} ({d['n_samples']} samples, {labels})"
