"""Plain table rows and number formats for the pages (pure functions; tests call them directly)."""
from __future__ import annotations

from collections import Counter
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
    if shape is None:
        return "—"
    if not isinstance(shape, (list, tuple)):
        return str(shape)
    return "[" + ", ".join("?" if d in (None, -1) or isinstance(d, str) and not d.isdigit() else str(d)
                           for d in shape) + "]"


def flops_text(m: dict[str, Any]) -> str:
    """``6.02 M at 224×224`` for a model whose inputs leave sizes open (counted at the stated sizes);
    ``—`` when unknown."""
    if m.get("flops") is None:
        return "—"
    at = m.get("flops_at") or (m.get("info") or {}).get("flops_at")  # slim list rows carry it alone
    return f"{human_count(m['flops'])} at {open_sizes_text(at)}" if at else human_count(m["flops"])


def open_sizes_text(at: list[dict[str, Any]]) -> str:
    """``224×224`` for one input's open sizes (``info.flops_at``); ``tokens 128, mask 128`` for several."""
    by_input: dict[str, list[str]] = {}
    for d in at:
        by_input.setdefault(str(d.get("input")), []).append(str(d.get("size")))
    parts = [f"{name} {'×'.join(sizes)}" for name, sizes in by_input.items()]
    return "×".join(next(iter(by_input.values()))) if len(parts) == 1 else ", ".join(parts)


def model_label(m: dict[str, Any]) -> str:
    """``#3 digits-cnn · onnx (tf2onnx)`` — how a model is named in every picker."""
    how = f" ({m['pass']})" if m.get("pass") and m["pass"] not in m["name"] else ""
    return f"#{m['id']} {m['name']} · {m['format']}{how}"


def models_table(models: list[dict[str, Any]], champions: set[int]) -> list[dict[str, Any]]:
    sizes = sizes_in([m.get("size_bytes") for m in models])
    return [{"id": m["id"], "name": m["name"], "format": m["format"], "pass": m.get("pass") or "upload",
             "parent": m.get("parent_id"), "family": m.get("root_id"), "params": m.get("params"),
             "FLOPs": flops_text(m), "size": size, "champion": "★" if m["id"] in champions else "",
             "tags": ", ".join(m.get("tags") or []), "archived": "archived" if m.get("archived") else ""}
            for m, size in zip(models, sizes)]


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
                     "peak RSS MB": r.get("peak_rss_mb"), "CPU %": r.get("cpu_percent"), "GFLOP/s": rf.get("achieved_gflops"),
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
    """``api.find_jobs`` rows: what ran on which model, what it made, when, how long, and what it said."""
    return [{"id": j["id"], "kind": j["kind"], "status": j["status"], "progress": j.get("progress") or 0.0,
             "model": (j.get("params") or {}).get("model_id"), "pass": j.get("pass") or "",
             "output model": j.get("output_model_id"), "queued": j.get("created_at"), "started": j.get("started_at"),
             "finished": j.get("finished_at"), "duration s": j.get("duration_s"), "by": j.get("submitted_by") or "",
             "worker": j.get("worker") or (f"→ {j['target']}" if j.get("target") else ""),
             "message": j.get("message") or "", "error": j.get("error") or ""} for j in jobs]


def workers_table(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per live worker: where it runs, what it answers to, and what it is doing."""
    return [{"worker": w["id"], "host": w["host"], "labels": ", ".join(w["labels"]) or "—",
             "fingerprint": (w.get("fingerprint") or "")[:12], "heartbeat": w.get("heartbeat"),
             "job": f"#{w['job']}" if w.get("job") else "idle", "note": w.get("note") or ""} for w in workers]


def job_outcome(job: dict[str, Any]) -> str:
    """One sentence on what a finished job left behind."""
    result = job.get("result") or {}
    what = f"Job #{job['id']} ({job['kind']})"
    if job["status"] != "succeeded":
        return f"{what} {job['status']}: {job.get('error') or 'no reason was recorded'}"
    if job["kind"] == "demo":
        train = f" (the held-out test split; its training/calibration split is #{result['train_dataset_id']})" \
            if result.get("train_dataset_id") else ""
        return (f"{what} succeeded: demo model #{result.get('model_id')} and data set #{result.get('dataset_id')} "
                f"are ready{train}.")
    if job["kind"] == "benchmark" and result.get("results"):
        return f"{what} succeeded: {_first_cell(result)}."
    if job["kind"] == "evaluate" and (result.get("metrics") or {}).get("accuracy") is not None:
        return (f"{what} succeeded: accuracy {result['metrics']['accuracy']:.2%} on data set "
                f"#{result.get('dataset_id')}" + (f" ({result['n_samples']} samples)." if result.get("n_samples")
                                                  else "."))
    if "dataset_id" in result and "model_id" not in result:
        return f"{what} succeeded: data set #{result['dataset_id']} is ready."
    if job["kind"] in ("import", "optimize", "recipe"):
        return f"{what} succeeded: model #{result.get('model_id')} is ready."
    if job["kind"] == "export":
        return f"{what} succeeded: {result.get('filename')} ({human_bytes(result.get('size_bytes'))}) is ready."
    return f"{what} succeeded."


def _first_cell(result: dict[str, Any]) -> str:
    """``model #3, p50 0.412 ms at batch 1, 2 thread(s) (onnxruntime; 3 more configurations)``."""
    cell, more = result["results"][0], len(result["results"]) - 1
    p50 = (cell.get("latency_ms") or {}).get("p50")
    text = f"model #{result.get('model_id')}, p50 " + (f"{p50:.3g} ms" if p50 is not None else "not timed")
    text += f" at batch {cell.get('batch', '?')}, {cell.get('threads', '?')} thread(s) ({result.get('runtime') or '?'}"
    return text + (f"; {more} more configuration{'s' if more > 1 else ''})" if more else ")")


def dataset_label(d: dict[str, Any]) -> str:
    labels = "labelled" if d.get("has_labels") else "no labels"
    role = f", {d['role']}" if d.get("role") else ""
    return f"#{d['id']} {d['name']} ({d['n_samples']} samples, {labels}{role})"


def history_rows(measurements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per measurement: when, what, and its headline figure."""
    rows = []
    for m in measurements:
        s = m.get("summary") or {}
        first = (s.get("results") or [{}])[0]
        lat = first.get("latency_ms") or {}
        rows.append({"id": m["id"], "when": m.get("created_at"), "kind": m["kind"], "runtime": m.get("runtime"),
                     "batch": first.get("batch"), "threads": first.get("threads"), "p50 ms": lat.get("p50"),
                     "data set": m.get("dataset_id"), "accuracy": (s.get("metrics") or {}).get("accuracy"),
                     "samples": s.get("n_samples"), "noisy": "⚠" if s.get("warnings") else "", "job": m.get("job_id")})
    return rows


def variant_label(r: dict[str, Any]) -> str:
    """``#12 ort-quantize-dynamic · onnx`` — short enough for a chart label or a multiselect chip."""
    return f"#{r['id']} {r.get('pass') or 'root'} · {r.get('format')}"


def common_setting(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """The (batch, threads) most of the benchmarked ``rows`` were timed at, (1, 1) when none was: an unmeasured
    variant benchmarked at it divides like with like (after a search timed everything at 2 threads, a 1-thread
    benchmark of the root made every ratio read “different settings”)."""
    seen = [((r.get("setting") or {}).get("batch"), (r.get("setting") or {}).get("threads")) for r in rows
            if r.get("latency_p50_ms") is not None]
    seen = [(int(b), int(t)) for b, t in seen if b and t]
    return Counter(seen).most_common(1)[0][0] if seen else (1, 1)  # a tie: the first variant's


def provenance_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """Sentences about figures that must not be read as like with like: several hardware fingerprints,
    ratios across runtimes or settings, and benchmarks timed while other processes used the CPU."""
    out = []
    machines = {r["hardware_id"] for r in rows if r.get("hardware_id") is not None}
    if len(machines) > 1:
        out.append(f"These latencies were measured on {len(machines)} different machines (hardware fingerprints); "
                   "ratios across them are marked “different hardware”.")
    for basis, where in (("different runtime", "another runtime"), ("different settings", "other settings")):
        odd = [r["id"] for r in rows if r.get("ratio_basis") == basis]
        if odd:
            out.append(f"{len(odd)} latency ratio(s) divide by the root's figure on {where} "
                       f"({', '.join(f'#{i}' for i in odd[:8])}{'…' if len(odd) > 8 else ''}): read them as "
                       f"“{basis}”, not as a speed-up.")
    served = [r["id"] for r in rows if (r.get("setting") or {}).get("runtime") == "server-http"]
    if served and any(r.get("latency_p50_ms") is not None and r["id"] not in served for r in rows):
        out.append(f"The latency of {', '.join(f'#{i}' for i in served[:8])} is a load test's, through the HTTP "
                   "server (the round trip included); the others were timed in-process. Benchmark "
                   f"{'it' if len(served) == 1 else 'them'} on the Models page to compare like with like.")
    for r in rows:
        if r.get("data_warning"):
            out.append(f"Accuracy of #{r['id']} is not held-out: {r['data_warning']}.")
    noisy = [r["id"] for r in rows if r.get("noise")]
    if noisy:
        example = next(r for r in rows if r.get("noise"))["noise"][0]
        out.append(f"{len(noisy)} variant(s) were timed while other processes used the CPU "
                   f"({', '.join(f'#{i}' for i in noisy[:8])}{'…' if len(noisy) > 8 else ''}), e.g. “{example}”.")
    return out


def provenance_lines(rows: list[dict[str, Any]], limit: int = 6) -> list[str]:
    """Where the shown figures come from, one line per distinct source with the variants it covers:
    ``Latency of #1, #2: onnxruntime · batch 1 · 1 thread(s) · <CPU>``, ``Accuracy of #1, #2: on held-out …``."""
    groups: dict[str, list[int]] = {}
    for r in rows:
        for what, key in (("Latency", "latency_provenance"), ("Accuracy", "accuracy_provenance")):
            if r.get(key):
                groups.setdefault(f"{what}\x00{r[key]}", []).append(r["id"])
    lines = []
    for key, ids in list(groups.items())[:limit]:
        what, text = key.split("\x00")
        shown = ", ".join(f"#{i}" for i in ids[:8]) + ("…" if len(ids) > 8 else "")
        lines.append(f"{what} of {shown}: {text}")
    return lines


def one_unit(values: list[int | float | None]) -> tuple[str, float]:
    """The byte unit (and divisor) that fits the largest value, so one column never mixes MiB and KiB."""
    top = max((abs(v) for v in values if v is not None), default=0)
    for unit, div in (("GiB", 1024.0 ** 3), ("MiB", 1024.0 ** 2), ("KiB", 1024.0)):
        if top >= div:
            return unit, div
    return "B", 1.0


def sizes_in(values: list[int | float | None]) -> list[str]:
    unit, div = one_unit(values)
    return ["—" if v is None else (f"{v:.0f} B" if unit == "B" else f"{v / div:,.1f} {unit}") for v in values]


def decision_table(rows: list[dict[str, Any]], champion_id: int | None) -> list[dict[str, Any]]:
    """The decision columns first (Pareto, champion, accuracy, latency, size), then where each figure came from."""
    out = []
    sizes = dict(zip([r["id"] for r in rows], sizes_in([r.get("size_bytes") for r in rows])))
    for r in rows:
        basis = r.get("ratio_basis")
        out.append({"id": r["id"], "variant": variant_label(r), "Pareto": "✓" if r.get("pareto") else "",
                    "champion": "★" if r["id"] == champion_id else "", "accuracy": r.get("accuracy"),
                    "accuracy Δ root": r.get("accuracy_delta"), "latency p50 ms": r.get("latency_p50_ms"),
                    "p50 95% CI": ci_text(r.get("latency_ci95")), "latency × root": r.get("latency_ratio"),
                    "basis": "" if basis in (None, "like with like") else basis, "size": sizes[r["id"]],
                    "size × root": r.get("size_ratio"), "noisy": "⚠" if r.get("noise") else "",
                    "latency measured with": r.get("latency_provenance") or "", "libraries": r.get("versions") or "",
                    "accuracy measured": r.get("accuracy_provenance") or "", "agreement": r.get("agreement"),
                    "data": "⚠ not held-out" if r.get("data_warning") else ""})
    return out


def side_by_side_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per figure, one column per variant; deltas are to the first variant, with the median's CI."""
    first = rows[0]

    def delta(key: str, r: dict[str, Any], fmt: str) -> str:
        a, b = first.get(key), r.get(key)
        if r is first or a in (None, 0) or b is None:
            return ""
        return f" ({b / a:{fmt}}× #{first['id']})"

    lines = {
        "latency p50 ms": lambda r: ("—" if r.get("latency_p50_ms") is None else
                                     f"{r['latency_p50_ms']:.4g} [{ci_text(r.get('latency_ci95'))}]"
                                     + delta("latency_p50_ms", r, ".2f")),
        "latency p99 ms": lambda r: "—" if r.get("latency_p99_ms") is None else f"{r['latency_p99_ms']:.4g}",
        "throughput /s": lambda r: "—" if r.get("throughput_per_s") is None else f"{r['throughput_per_s']:,.0f}",
        "peak RSS MB · CPU %": lambda r: f"{r.get('peak_rss_mb') or '—'} · {r.get('cpu_percent') or '—'}",
        "size": lambda r: human_bytes(r.get("size_bytes")) + delta("size_bytes", r, ".2f"),
        "accuracy": lambda r: "—" if r.get("accuracy") is None else f"{r['accuracy']:.2%}"
                              + (f" ({(r['accuracy'] - first['accuracy']) * 100:+.2f} pt)"
                                 if r is not first and first.get("accuracy") is not None else ""),
        "accuracy measured": lambda r: r.get("accuracy_provenance") or "—",
        "latency measured with": lambda r: r.get("latency_provenance") or "—",
        "noise": lambda r: "; ".join(r.get("noise") or []) or "none reported",
    }
    return [{"figure": name, **{variant_label(r): fn(r) for r in rows}} for name, fn in lines.items()]


def graph_diff_sentence(nodes: dict[str, Any]) -> str:
    """``3 nodes replaced (Conv → QLinearConv ×2, MatMul → MatMulInteger), 4 added, 1 removed, 12 kept; 1
    compute node left in float.``"""
    kinds = ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in (nodes.get("replacements") or {}).items())
    text = (f"{nodes['n_replaced']} node(s) replaced" + (f" ({kinds})" if kinds else "")
            + f", {nodes['n_added']} added, {nodes['n_removed']} removed, {nodes['kept']} kept unchanged")
    if nodes.get("n_kept_float"):
        text += f"; {nodes['n_kept_float']} compute node(s) left in float"
    return text + "."


def ab_verdict(r: dict[str, Any]) -> str:
    """The interleaved A/B in one sentence: the ratio, its CI and whether it is beyond the noise."""
    lo, hi = r["ratio_ci95"]
    faster = "faster" if r["ratio_b_over_a"] < 1 else "slower"
    verdict = (f"#{r['versus']} is {faster} than #{r['model_id']}: the difference is beyond the noise"
               if r["significant"] else f"no difference beyond the noise between #{r['versus']} and #{r['model_id']}")
    return (f"{verdict}. p50 B/A = {r['ratio_b_over_a']:.3f} (95% CI {lo:.3f}–{hi:.3f}); "
            f"{r['b']['p50_ms']:.4g} ms against {r['a']['p50_ms']:.4g} ms over {r['pairs']} interleaved pairs.")


def champion_history_rows(events: list[dict[str, Any]], family: bool = False) -> list[dict[str, Any]]:
    """Champion decisions as table rows; ``family`` adds the family (for decisions of deleted families)."""
    rows = []
    for e in events:
        f = e.get("figures") or {}
        model = f"#{e['model_id']} {e.get('model_name') or ''}".strip() if e.get("model_id") else "—"
        row = {"family": f"#{e['root_id']} {e.get('family_name') or ''}".strip()} if family else {}
        row.update({"when": e.get("at"), "action": e["action"], "model": model + (" (deleted)" if e.get("deleted")
                                                                                  and not family else ""),
                     "who": e.get("who") or "—", "note": e.get("note") or "",
                     "machine": f"hardware #{e['hardware_id']}" if e.get("hardware_id") else "any",
                     "p50 ms then": f.get("latency_p50_ms"), "accuracy then": f.get("accuracy"),
                     "size then": human_bytes(f.get("size_bytes")) if f.get("size_bytes") else "—"})
        rows.append(row)
    return rows


def dataset_matches(d: dict[str, Any], search: str) -> bool:
    needle = search.strip().lower().lstrip("#")
    return not needle or needle in d["name"].lower() or needle == str(d["id"]) or needle in (d.get("role") or "")


def datasets_table(sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": d["id"], "name": d["name"], "role": d.get("role") or "", "samples": d["n_samples"],
             "x shape": shape_text(d.get("x_shape")), "dtype": d.get("x_dtype"),
             "labels": f"{d['n_classes']} classes" if d.get("has_labels") and d.get("n_classes") else
             ("yes" if d.get("has_labels") else "none"),
             "evaluated": ", ".join(f"#{i}" for i in d.get("evaluated") or []),
             "calibrated / fine-tuned": ", ".join(f"#{i}" for i in d.get("trained") or []),
             "added": d.get("created_at")} for d in sets]
