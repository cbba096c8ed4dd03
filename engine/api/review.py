"""Reading a family for review: its variants, each one's latest figures with their provenance, like-with-like
ratios to the root, the Pareto front, and a model's measurement history a page at a time."""
from __future__ import annotations

from typing import Any

from engine import provenance
from engine.api.common import get_model, ready
from storage import catalog, family
from storage.db import session_scope


def families() -> list[dict[str, Any]]:
    """Every family head, newest first, with ``variants`` (how many models it holds)."""
    ready()
    with session_scope() as s:
        return family.roots(s)


def family_members(root_id: int, search: str = "", include_archived: bool = True, offset: int = 0,
                   limit: int | None = None) -> list[dict[str, Any]]:
    """Slim rows (id, name, format, parent_id, pass, size_bytes, params, flops, tags, archived) of a family."""
    ready()
    with session_scope() as s:
        return family.family_rows(s, int(root_id), search, include_archived, offset, limit)


def evaluation_datasets(root_id: int) -> list[dict[str, Any]]:
    """The data sets a family's models were evaluated on: ``id, name, role, evaluations``."""
    ready()
    with session_scope() as s:
        rows = family.datasets_evaluated(s, int(root_id))
        sets = {d: catalog.get_dataset(s, d) for d, _, _ in rows}
    return [{"id": d, "name": name, "role": getattr(sets[d], "role", None), "evaluations": n} for d, name, n in rows]


def catalogue_version() -> tuple[int, ...]:
    """A value that changes whenever anything the review pages show changes (pages cache on it)."""
    ready()
    with session_scope() as s:
        return catalog.catalogue_version(s)


def family_machines(root_id: int) -> list[dict[str, Any]]:
    """The machines a family was benchmarked on, most used first: ``id`` (hardware), ``text`` (CPU, cores, ISA
    flags), ``fingerprint``, ``benchmarks``, and ``champion`` (the model chosen for it, or None)."""
    ready()
    with session_scope() as s:
        used = family.machines(s, int(root_id))
        hardware = family.hardware_of(s, [h for h, _ in used])
        chosen = catalog.machine_champions(s, int(root_id))
    return [{"id": h, "text": provenance.hardware_text(hardware.get(h)), "fingerprint": hardware.get(h, {}).get(
        "fingerprint"), "benchmarks": n, "champion": chosen[h].model_id if h in chosen else None} for h, n in used]


def family_overview(root_id: int, dataset_id: int | None = None, model_ids: list[int] | None = None,
                    hardware_id: int | None = None) -> list[dict[str, Any]]:
    """One row per variant (or per chosen ``model_ids``) with its latest benchmark (on ``hardware_id``'s machine
    when given) and its latest evaluation on ``dataset_id`` (default: the set most evaluations used), each figure
    with its provenance; latency and size ratios to the root say on what basis they were divided; ``pareto``
    marks the front."""
    ready()
    root_id = int(root_id)
    with session_scope() as s:
        members = family.family_rows(s, root_id)
        if model_ids is not None:
            wanted = {int(i) for i in model_ids}
            members = [m for m in members if m["id"] in wanted or m["id"] == root_id]
        ids = [m["id"] for m in members]
        if dataset_id is None:
            used = family.datasets_evaluated(s, root_id)
            dataset_id = max(used, key=lambda r: r[2])[0] if used else None
        benches = family.latest_figures(s, "benchmark", ids, hardware_id=hardware_id)
        evals = family.latest_figures(s, "evaluate", ids, dataset_id) if dataset_id else {}
        hardware = family.hardware_of(s, {b["hardware_id"] for b in benches.values()})
        dataset = catalog.get_dataset(s, dataset_id) if dataset_id else None
    dataset_doc = {"id": dataset.id, "name": dataset.name, "role": getattr(dataset, "role", None)} if dataset else None
    rows = [_row(m, benches.get(m["id"]), evals.get(m["id"]), hardware, dataset_doc) for m in members]
    _ratios(rows, root_id)
    _leaks(rows, members, dataset_doc)
    front = provenance.pareto(rows)
    for r in rows:
        r["pareto"] = r["id"] in front
    if model_ids is not None:
        rows = [r for r in rows if r["id"] in {int(i) for i in model_ids}]
    return rows


def _row(m: dict[str, Any], bench: Any, ev: Any, hardware: dict[int, dict[str, Any]],
         dataset: dict[str, Any] | None) -> dict[str, Any]:
    row = {**m, "latency_p50_ms": None, "latency_ci95": None, "latency_p99_ms": None, "throughput_per_s": None,
           "peak_rss_mb": None, "setting": None, "hardware_id": None, "latency_provenance": None, "versions": None,
           "noise": [], "explanation": [], "explanation_tone": "info", "benchmarked_at": None, "accuracy": None, "accuracy_provenance": None,
           "evaluated_at": None, "eval_samples": None, "agreement": None, "data_warning": None}
    if bench is not None:
        ci = [bench["ci_low"], bench["ci_high"]] if bench["ci_low"] is not None else None
        lat = {"p50": bench["p50"], "p99": bench["p99"], "ci95_p50": ci}
        cell = {k: bench[k] for k in ("throughput_per_s", "peak_rss_mb", "cpu_percent", "batch", "threads",
                                      "opt_level", "execution_mode", "thread_pool")}
        summary = {"results": [{**cell, "latency_ms": lat}], "warnings": bench["warnings"],
                   "source": bench.get("source"), "search": bench.get("search")}  # a search's timing says so
        hw = hardware.get(bench["hardware_id"])
        if hw is not None and "_text" not in hw:  # worded once per machine, not once per row
            hw["_text"], hw["_versions"] = provenance.hardware_text(hw), provenance.versions_text(hw)
        row.update(latency_p50_ms=lat.get("p50"), latency_ci95=lat.get("ci95_p50"), latency_p99_ms=lat.get("p99"),
                   throughput_per_s=cell.get("throughput_per_s"), peak_rss_mb=cell.get("peak_rss_mb"),
                   cpu_percent=cell.get("cpu_percent"), setting=provenance.setting(summary, bench["runtime"]),
                   hardware_id=bench["hardware_id"], latency_provenance=provenance.latency_text(summary, bench["runtime"], hw),
                   versions=hw["_versions"] if hw else provenance.versions_text(hw), noise=provenance.noise(summary),
                   explanation=[str(x) for x in bench["explanations"] or []],
                   explanation_tone=bench.get("explanation_tone") or "info",
                   benchmarked_at=bench["created_at"].isoformat(timespec="seconds") + "Z")
    if ev is not None:
        when = ev["created_at"].isoformat(timespec="seconds") + "Z"
        row.update(accuracy=ev["accuracy"], eval_samples=ev["n_samples"], evaluated_at=when,
                   accuracy_provenance=provenance.accuracy_text({"n_samples": ev["n_samples"]}, dataset, when),
                   agreement=ev["agreement"])
    return row


def _leaks(rows: list[dict[str, Any]], members: list[dict[str, Any]], dataset: dict[str, Any] | None) -> None:
    """Flag accuracies measured on the data set the variant (or an ancestor) was calibrated or fine-tuned on."""
    by_id = {m["id"]: m for m in members}
    for r in rows:
        r["data_warning"] = None
        node = by_id.get(r["id"])
        while dataset and node is not None and r.get("accuracy") is not None:
            if node.get("trained_on") == dataset["id"]:
                r["data_warning"] = (f"#{node['id']} ({node.get('pass')}) calibrated or fine-tuned on data set "
                                     f"#{dataset['id']} {dataset['name']}, the set this accuracy was measured on: "
                                     "evaluate on a held-out set")
                break
            node = by_id.get(node.get("parent_id"))


def _ratios(rows: list[dict[str, Any]], root_id: int) -> None:
    root = next((r for r in rows if r["id"] == root_id), None)
    for r in rows:
        r["latency_ratio"] = r["size_ratio"] = r["accuracy_delta"] = r["ratio_basis"] = None
        if root is None:
            continue
        if root.get("size_bytes") and r.get("size_bytes") is not None:
            r["size_ratio"] = round(r["size_bytes"] / root["size_bytes"], 4)
        if root.get("accuracy") is not None and r.get("accuracy") is not None:
            r["accuracy_delta"] = round(r["accuracy"] - root["accuracy"], 6)
        if root.get("latency_p50_ms") and r.get("latency_p50_ms") is not None:
            r["latency_ratio"] = round(r["latency_p50_ms"] / root["latency_p50_ms"], 4)
            r["ratio_basis"] = provenance.ratio_basis(r["setting"], root["setting"], r["hardware_id"],
                                                      root["hardware_id"])


def measurement_history(model_id: int, kind: str | None = None, offset: int = 0, limit: int = 20
                        ) -> tuple[list[dict[str, Any]], int]:
    """A page of a model's measurements (newest first, without raw samples) and the total count."""
    model = get_model(model_id)
    with session_scope() as s:
        records, total = family.history(s, model.id, kind, offset, limit)
    return [r.to_json() for r in records], total


def model_review(model_id: int) -> dict[str, Any]:
    """What the Models page shows of one model: the model, its children, champion flag, its latest benchmark,
    its latest evaluation on each data set, the hardware they ran on, and how many measurements it has."""
    model = get_model(model_id)
    with session_scope() as s:
        kids = [k.id for k in catalog.children(s, model.id)]
        champion = catalog.get_champion(s, model.root_id)
        bench = family.latest_per_model(s, "benchmark", model_ids=[model.id]).get(model.id)
        evals = family.latest_evaluations_by_dataset(s, model.id)
        _, total = family.history(s, model.id, limit=0)
        hardware = family.hardware_of(s, [bench.hardware_id] if bench else [])
    shown = ([bench] if bench else []) + evals
    return {**model.to_json(), "children": kids, "champion": bool(champion and champion.model_id == model.id),
            "measurements": [m.to_json() for m in shown], "measurement_count": total,
            "hardware": {str(k): v for k, v in hardware.items()}}


def graph_diff(parent_id: int, child_id: int) -> dict[str, Any]:
    """What changed from ``parent_id`` to ``child_id``: ``ops`` (per op type counts) always, and ``nodes``
    (added, removed, replaced, kept in float) when both are ONNX graphs; ``note`` says why ``nodes`` is None."""
    from engine.graph_diff import diff_files, op_diff
    from storage import artifacts

    parent, child = get_model(parent_id), get_model(child_id)
    out: dict[str, Any] = {"parent_id": parent.id, "child_id": child.id, "note": None, "nodes": None,
                           "ops": op_diff(parent.info.get("op_histogram") or {}, child.info.get("op_histogram") or {})}
    if parent.format != "onnx" or child.format != "onnx":
        out["note"] = (f"a node diff needs two ONNX graphs (#{parent.id} is {parent.format}, #{child.id} is "
                       f"{child.format}); op type counts are compared instead")
        return out
    try:
        out["nodes"] = diff_files(artifacts.resolve(parent.artifact), artifacts.resolve(child.artifact))
    except (ValueError, OSError, TimeoutError) as exc:
        out["note"] = str(exc)
    return out


def config_diff(model_ids: list[int]) -> list[dict[str, Any]]:
    """The pass and settings that made each model, one row per setting, ``differs`` where they disagree."""
    models = [get_model(i) for i in model_ids]
    keys = ["pass"] + sorted({k for m in models for k in (m.config or {})})
    rows = []
    for key in keys:
        values = [m.pass_name or "upload" if key == "pass" else (m.config or {}).get(key) for m in models]
        rows.append({"setting": key, **{f"#{m.id}": _plain(v) for m, v in zip(models, values)},
                     "differs": len({repr(v) for v in values}) > 1})
    return rows


def _plain(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v)


def find_jobs(kinds: list[str] | None = None, statuses: list[str] | None = None, root_id: int | None = None,
              offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """A page of jobs (newest first) as JSON with ``pass``, ``output_model_id`` and ``duration_s``, and the
    number that match the filters in all."""
    from storage import job_queries

    ready()
    with session_scope() as s:
        records, total = job_queries.find_jobs(s, kinds, statuses, root_id, offset, limit)
    out = []
    for j in records:
        doc = j.to_json()
        end = j.finished_at
        doc["pass"] = j.params.get("pass")
        doc["output_model_id"] = (j.result or {}).get("model_id") if j.kind in ("import", "optimize", "recipe",
                                                                                 "demo") else None
        doc["duration_s"] = round((end - j.started_at).total_seconds(), 1) if end and j.started_at else None
        out.append(doc)
    return out, total
