"""The search for a goal: ``trimline auto``."""
from __future__ import annotations

from typing import Any, Optional

import typer

from engine.cli.base import JsonOpt, app, command, emit, wait_for


@command(app, "auto")
def auto(model_id: int,
         dataset: Optional[int] = typer.Option(None, help="Data set id for calibration (and accuracy, without "
                                                           "--eval-dataset)."),
         eval_dataset: Optional[int] = typer.Option(None, help="Held-out labelled data set id for accuracy."),
         objective: str = typer.Option("latency", help="latency, throughput or size."),
         max_accuracy_drop: Optional[float] = typer.Option(None, help="Most accuracy a candidate may lose "
                                                                      "(0.01 = one point; default with labels)."),
         min_fidelity: Optional[float] = typer.Option(None, help="Least top-1 agreement with the parent."),
         batch: int = typer.Option(1, help="Batch size the candidates are timed at."),
         threads: Optional[int] = typer.Option(None, help="Intra-op threads (default: this machine's cores)."),
         budget: str = typer.Option("10m", help="Wall-clock time the search may take, e.g. 90s, 10m."),
         target: Optional[str] = typer.Option(None, help="cpu, onnxruntime or tflite (default: runtimes compete)."),
         synthetic_calibration: bool = typer.Option(False, help="Without --dataset, calibrate INT8 on seeded "
                                                                "random inputs (no accuracy is claimed)."),
         as_json: bool = JsonOpt) -> None:
    """Search the passes for the fastest (or smallest) variant within an accuracy budget, and recommend one."""
    from engine import api

    job = wait_for(api.submit_auto(model_id=model_id, dataset_id=dataset, eval_dataset_id=eval_dataset,
                                   objective=objective, max_accuracy_drop=max_accuracy_drop,
                                   min_fidelity=min_fidelity, batch=batch, threads=threads, budget=budget,
                                   target=target, synthetic_calibration=synthetic_calibration))
    emit(contract(job.result), as_json, _table)


def contract(result: dict[str, Any]) -> dict[str, Any]:
    """The CLI contract's document: recommended, parent, candidates, pareto, and the explanation."""
    keys = ("id", "recipe", "status", "p50_ms", "accuracy", "reason", "label", "runtime", "ratio", "ratio_ci95",
            "size_bytes", "size_gzip_bytes", "agreement", "settings", "float_nodes", "session_trial")
    return {"recommended": result["recommended"], "parent": result["parent"],
            "candidates": [{k: c.get(k) for k in keys} for c in result["candidates"]],
            "pareto": result["pareto"], "explanation": result["explanation"], "notes": result["notes"],
            "partial": result["partial"], "settings": result["settings"], "wall_s": result["wall_s"]}


def _table(r: dict[str, Any]) -> str:
    lines = [f"{'id':>5}  {'status':<11} {'p50 ms':>8} {'×parent':>8} {'MB':>7} {'acc':>6}  candidate / reason"]
    for c in r["candidates"]:
        acc = f"{c['accuracy']:.3f}" if c.get("accuracy") is not None else "-"
        p50 = f"{c['p50_ms']:.3f}" if c.get("p50_ms") is not None else "-"
        ratio = f"{c['ratio']:.2f}" if c.get("ratio") is not None else "-"
        size = f"{c['size_bytes'] / 1e6:.2f}" if c.get("size_bytes") else "-"
        ident = str(c["id"]) if c.get("id") is not None else "-"
        lines.append(f"{ident:>5}  {c['status']:<11} {p50:>8} {ratio:>8} {size:>7} {acc:>6}  {c['label']}: {c['reason']}")
    lines += ["", r["explanation"], *r["notes"], f"recommended: model {r['recommended']}"
              + (" (partial: the budget or a cancel ended the search early)" if r["partial"] else "")]
    return "\n".join(lines)
