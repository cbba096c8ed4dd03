"""A family's review as one self-contained HTML file (inline SVG chart and CSS, no script, no network: it opens
offline and can be archived or mailed), and every measurement of a family as CSV rows."""
from __future__ import annotations

import csv
import html
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

CSV_COLUMNS = ["measurement_id", "model_id", "model", "pass", "format", "kind", "created_at", "runtime", "batch",
               "threads", "opt_level", "execution_mode", "p50_ms", "p90_ms", "p99_ms", "ci95_p50_low",
               "ci95_p50_high", "throughput_per_s", "peak_rss_mb", "cpu_percent", "runs", "dataset_id", "dataset",
               "n_samples", "accuracy", "agreement", "cpu", "isa_flags", "versions", "warnings"]

_STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#0f172a}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:12px}th,td{border:1px solid #cbd5e1;
padding:3px 6px;text-align:left;vertical-align:top}th{background:#f1f5f9}.warn{color:#b45309}
.star{color:#d97706;font-weight:bold}caption{text-align:left;font-weight:bold;padding:4px 0}small{color:#475569}"""


def _e(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    return html.escape(str(value))


def _table(caption: str, header: list[str], rows: Iterable[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><caption>{_e(caption)}</caption><tr>{head}</tr>{body}</table>"


def scatter_svg(rows: list[dict[str, Any]], champion_id: int | None, width: int = 760, height: int = 360) -> str:
    """Latency p50 against size, Pareto variants outlined and labelled, the champion as a gold point."""
    timed = [r for r in rows if r.get("latency_p50_ms") is not None and r.get("size_bytes")]
    if not timed:
        return "<p><small>No benchmarked variant to chart.</small></p>"
    pad = 50
    xmax = max(r["size_bytes"] for r in timed) * 1.1
    ymax = max(r["latency_p50_ms"] for r in timed) * 1.1

    def xy(r: dict[str, Any]) -> tuple[float, float]:
        return (pad + (width - 2 * pad) * r["size_bytes"] / xmax,
                height - pad - (height - 2 * pad) * r["latency_p50_ms"] / ymax)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#64748b"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#64748b"/>',
             f'<text x="{width / 2}" y="{height - 12}" font-size="12">size (KiB, up to {xmax / 1024:.4g})</text>',
             f'<text x="8" y="{pad - 12}" font-size="12">latency p50 (ms, up to {ymax:.4g})</text>']
    for r in timed:
        x, y = xy(r)
        colour = "#d97706" if r["id"] == champion_id else "#0f766e"
        stroke = 'stroke="#0f172a" stroke-width="2"' if r.get("pareto") else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{6 if r.get("pareto") else 3}" fill="{colour}" {stroke}>'
                     f'<title>#{r["id"]} {_e(r.get("pass") or "root")}: {r["latency_p50_ms"]:.4g} ms</title></circle>')
        if r.get("pareto") or r["id"] == champion_id:
            parts.append(f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" font-size="11">#{r["id"]} {_e(r.get("pass") or "root")}'
                         "</text>")
    return "".join(parts) + "</svg>"


def family_html(family: dict[str, Any], rows: list[dict[str, Any]], champion: dict[str, Any] | None,
                history: list[dict[str, Any]], dataset: dict[str, Any] | None, hardware: dict[int, dict[str, Any]]
                ) -> str:
    """The report: who won and why, the chart, every variant's figures with their provenance, the champion's
    history, and the machines the figures were measured on."""
    champ_id = champion["model_id"] if champion else None
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>Trimline report: {_e(family['name'])}</title>",
           f"<style>{_STYLE}</style><h1>{_e(family['name'])} <small>family #{family['id']}</small></h1>",
           f"<p><small>{len(rows)} variants · written {now} by Trimline · accuracy on "
           f"{_e(dataset['name']) + ' (#' + str(dataset['id']) + ')' if dataset else 'no data set'}</small></p>"]
    if champion:
        out.append(f"<p class=star>★ Champion: #{champ_id} — “{_e(champion.get('note') or 'no note')}” "
                   f"({_e(champion.get('chosen_at'))})</p>")
    out.append(scatter_svg(rows, champ_id))
    warned = [r for r in rows if r.get("noise") or r.get("data_warning") or r.get("ratio_basis") not in
              (None, "like with like")]
    if warned:
        out.append("<ul class=warn>" + "".join(
            f"<li>#{r['id']}: " + _e("; ".join([*(r.get("noise") or []), r.get("data_warning") or "",
                                                 r.get("ratio_basis") or ""]).strip("; ")) + "</li>"
            for r in warned[:200]) + "</ul>")
    out.append(_table("Variants", ["id", "pass", "format", "Pareto", "champion", "accuracy", "latency p50 ms",
                                   "p50 95% CI", "latency × root", "basis", "size bytes", "size × root",
                                   "latency measured with", "accuracy measured"],
                      ([r["id"], r.get("pass") or "root", r.get("format"), "✓" if r.get("pareto") else "",
                        "★" if r["id"] == champ_id else "", r.get("accuracy"), r.get("latency_p50_ms"),
                        r.get("latency_ci95"), r.get("latency_ratio"), r.get("ratio_basis"), r.get("size_bytes"),
                        r.get("size_ratio"), r.get("latency_provenance"), r.get("accuracy_provenance")]
                       for r in rows)))
    if history:
        out.append(_table("Champion history", ["when", "action", "model", "who", "note", "p50 ms then",
                                               "accuracy then"],
                          ([e.get("at"), e["action"], e.get("model_id"), e.get("who"), e.get("note"),
                            (e.get("figures") or {}).get("latency_p50_ms"), (e.get("figures") or {}).get("accuracy")]
                           for e in history)))
    if hardware:
        out.append(_table("Machines", ["hardware id", "CPU", "cores", "ISA flags", "library versions"],
                          ([h["id"], h.get("cpu"), h.get("cores"),
                            " ".join(k for k, v in (h.get("flags") or {}).items() if v),
                            ", ".join(f"{k} {v}" for k, v in (h.get("versions") or {}).items())]
                           for h in hardware.values())))
    return "".join(out) + "</html>"


def csv_row(m: dict[str, Any], model: dict[str, Any], dataset: dict[str, Any] | None,
            hw: dict[str, Any] | None) -> dict[str, Any]:
    s = m.get("summary") or {}
    cell = (s.get("results") or [{}])[0] if m["kind"] == "benchmark" else {}
    lat = cell.get("latency_ms") or {}
    ci = lat.get("ci95_p50") or [None, None]
    hw = hw or {}
    return {"measurement_id": m["id"], "model_id": m["model_id"], "model": model.get("name"),
            "pass": model.get("pass") or "root", "format": model.get("format"), "kind": m["kind"],
            "created_at": m.get("created_at"), "runtime": m.get("runtime"), "batch": cell.get("batch"),
            "threads": cell.get("threads"), "opt_level": cell.get("opt_level"),
            "execution_mode": cell.get("execution_mode"), "p50_ms": lat.get("p50"), "p90_ms": lat.get("p90"),
            "p99_ms": lat.get("p99"), "ci95_p50_low": ci[0], "ci95_p50_high": ci[1],
            "throughput_per_s": cell.get("throughput_per_s"), "peak_rss_mb": cell.get("peak_rss_mb"),
            "cpu_percent": cell.get("cpu_percent"), "runs": cell.get("runs"), "dataset_id": m.get("dataset_id"),
            "dataset": (dataset or {}).get("name"), "n_samples": s.get("n_samples"),
            "accuracy": (s.get("metrics") or {}).get("accuracy"), "agreement": (s.get("fidelity") or {}).get("agreement"),
            "cpu": hw.get("cpu"), "isa_flags": " ".join(k for k, v in (hw.get("flags") or {}).items() if v),
            "versions": " ".join(f"{k}={v}" for k, v in (hw.get("versions") or {}).items()),
            "warnings": " | ".join(map(str, s.get("warnings") or []))}


def write_csv(out: TextIO, rows: Iterable[dict[str, Any]]) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n
