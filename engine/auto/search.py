"""The search itself, run inside one job's child process.

Order: build the reference (the parent as ONNX Runtime serves it), then each planned candidate in the
order ``space.plan`` chose — screened with a short interleaved timing and an accuracy check — then the
accuracy fallback where INT8 missed, then the finalists re-timed longer against the reference. The
table is written to ``live.json`` after every candidate, so the page can follow it and a cancelled
search keeps what finished.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.auto import judge
from engine.auto.accuracy import costly_nodes, measure
from engine.auto.build import Builder, Node
from engine.auto.measured import FINAL, SCREENING, timing_record
from engine.auto.params import AutoParams, AutoResult, Candidate
from engine.auto.space import (MAX_ROWS, Plan, calibration_rows, one_compute_chain, op_mix, outrun, plan,
                               static_config, without_data_adds)
from engine.errors import EngineError

SCREEN_S, FINAL_S, FINALISTS = 0.6, 1.2, 3  # FINAL_S: seconds of the final round-robin per finalist
# Session settings tried on the chosen artifact: parallel execution pays on branchy graphs; a lower
# optimization level sometimes avoids a fusion that is slower on this CPU.
SETTINGS_TRIALS = (("parallel", "all"), ("sequential", "extended"), ("sequential", "basic"))
COMMIT_MARGIN_S = 5.0
SERIAL_GRAPH = ("skipped: parallel execution runs independent nodes side by side, and this model's "
                "Conv/MatMul nodes form one chain (each needs the one before), so it has none to overlap; its "
                "inter-op threads only compete with the intra-op ones (1.6–2.6× slower on MobileNetV2 here)")


class Search:
    def __init__(self, spec: dict[str, Any], ctx) -> None:  # noqa: ANN001
        from engine.artifact import Artifact
        from engine.measure.hardware import fingerprint, usable_cores

        self.spec, self.ctx = spec, ctx
        self.params = AutoParams(**spec["params"])
        self.started = time.monotonic()
        self.deadline = self.started + self.params.budget_s - COMMIT_MARGIN_S
        self.hardware = fingerprint()
        self.threads = self.params.threads or usable_cores()
        parent = spec["parent"]
        self.parent = Artifact(Path(parent["path"]), parent["format"])
        self.result = AutoResult(parent=parent["id"], hardware=self.hardware)
        self.rows: list[Candidate] = []
        self.data, self.eval_data, data_sha = self._data()
        self.builder = Builder(self.parent, spec["parent_identity"], spec["existing"], ctx.work, self.data, data_sha,
                               ctx.log, lambda m: self._progress(m))
        self.reference: Candidate | None = None
        self.reference_node: Node | None = None
        self.eval_outputs: dict = {}  # the reference's outputs on the evaluation data, computed once
        # each timed model's latest timing (the finals' replace the screening's), by derivation key
        self.timings: dict[str | None, dict[str, Any]] = {}
        if self.params.prefix:  # a recipe's steps before its auto step: the search starts from their output
            self._progress("running the recipe's steps before the search")
            start = self.builder.build([(s["pass"], s["config"]) for s in self.params.prefix])
            self.builder.rebase(start)
            self.parent = start.artifact

    # ------------------------------------------------------------------ inputs
    def _data(self):  # noqa: ANN202
        from engine.formats import read_dataset

        ds, ev = self.spec.get("dataset"), self.spec.get("eval_dataset")
        data = read_dataset(Path(ds["path"])) if ds else None
        eval_data = read_dataset(Path(ev["path"])) if ev else data
        sha = ds["sha256"] if ds else None
        if data is None:
            self.result.notes.append(without_data_adds(self.parent.format))
            if self.params.synthetic_calibration:
                from engine.auto.synthetic import synthetic_calibration

                data, sha = synthetic_calibration(self.spec["parent"]["inputs"])
                self.result.notes.append("INT8 candidates were calibrated on a seeded synthetic set (labelled "
                                         "synthetic): their speed is real, their accuracy is not claimed.")
        elif ev is None and data.y is not None:
            self.result.notes.append("Accuracy was measured on the calibration data; pass --eval-dataset for a "
                                     "held-out figure.")
        return data, eval_data, sha

    def _progress(self, message: str) -> None:
        spent = time.monotonic() - self.started
        self.ctx.progress(min(0.99, spent / self.params.budget_s), message)

    def _settings(self, runtime: str) -> dict[str, Any]:
        if runtime == "tflite":
            return {"runtime": "tflite", "threads": self.threads, "delegate": "XNNPACK", "batch": self.params.batch}
        return {"runtime": "onnxruntime", "threads": self.threads, "execution_mode": "sequential",
                "opt_level": "all", "batch": self.params.batch}

    def _live(self) -> None:
        self.result.candidates = ([self.reference] if self.reference else []) + self.rows
        self.result.wall_s = round(time.monotonic() - self.started, 1)
        doc = {**self.result.model_dump(mode="json"), "nodes": self.builder.new_nodes(self.ctx.work.parent),
               "known": {k: n.id for k, n in self.builder.nodes.items() if n.id is not None},
               "time_left_s": max(0.0, round(self.deadline - time.monotonic(), 1)),
               "best": self._best_label(), "timings": list(self.timings.values())}
        tmp = self.ctx.scratch / "live.tmp"
        tmp.write_text(json.dumps(doc, default=str))
        os.replace(tmp, self.ctx.scratch / "live.json")

    def _best_label(self) -> str | None:
        """The candidate that would be recommended now: within budget and, for speed, faster beyond the noise."""
        ok = [c for c in self.rows if c.status == "accepted" and c.ratio is not None
              and (self.params.objective == "size" or judge.faster(c))]
        return min(ok, key=self._score).label if ok else None

    def _score(self, c: Candidate) -> float:
        return float(_shipped(c)) if self.params.objective == "size" else c.ratio

    # ------------------------------------------------------------------ steps
    def run(self) -> dict[str, Any]:
        from engine.auto.timing import Timer
        from engine.measure.benchmark import artifact_sizes

        self.timer = Timer("", self.params.batch, self.threads)  # the reference is set once it is built
        sizing = ThreadPoolExecutor(1)
        try:
            self.timer.start(*self._timing_processes())  # they start while the reference is converted
            # the parent's gzip pass (a second on a 14 MB model) runs on the core the conversion leaves idle;
            # it ends before the first timing, so it never disturbs one
            self.parent_sizes = sizing.submit(artifact_sizes, self.parent.path)
            self._progress("building the reference")
            to_onnx = [("tf2onnx", {"opset": 17})] if self.parent.format in ("keras", "savedmodel") else []
            self.reference_node = self.builder.build(to_onnx) if to_onnx else None
            ref_art = self.reference_node.artifact if self.reference_node else self.parent
            rows = calibration_rows(ref_art.onnx_file, self.spec.get("memory_mb", 12288)) if self.data else MAX_ROWS
            if self.data is not None and rows < min(MAX_ROWS, _n_rows(self.data)):
                self.result.notes.append(f"Static INT8 calibrates on {rows} rows: the calibrator holds every row's "
                                         "activations at once, and more would not fit the job's memory limit "
                                         "(TRIMLINE_JOB_MEMORY_MB).")
            plans = plan(self.parent.format, self.hardware["flags"], self._mix(), self.data is not None,
                         self.params.objective, self.params.target, rows)
            self.timer.reference = str(ref_art.onnx_file)
            self._reference(ref_art)
            self._live()
            for p in plans:
                p.skip = p.skip or outrun(p, self.rows, self.params.objective)
                if p.skip:
                    self.rows.append(Candidate(label=p.label, runtime=p.runtime, status="skipped", reason=p.skip,
                                               recipe=self._recipe(p), settings=self._settings(p.runtime)))
                    continue
                if time.monotonic() > self.deadline:
                    self._skip(p, "the time budget ran out before it was tried")
                    continue
                self._try(p)
                self._live()
            self._fallback()
            self._second_stage()
            self._finals()
            return self._finish()  # its session-settings trials time in the timer's processes too
        finally:
            self.timer.close()
            sizing.shutdown(cancel_futures=True)

    def _timing_processes(self) -> list[str]:
        """The timing processes this search will use: the screening one always; TFLite's when the parent can
        reach TFLite; the finals' and the session settings' ones for speed objectives."""
        kinds = ["onnxruntime"]
        if self.parent.format in ("keras", "savedmodel") and self.params.target in (None, "cpu", "tflite"):
            kinds.append("tflite")
        if self.params.objective != "size":
            kinds += ["final", "settings"]
        return kinds

    def _mix(self) -> dict[str, int]:
        return op_mix(self.parent.onnx_file) if self.parent.format == "onnx" else {"conv": 1, "matmul": 0}

    def _reference(self, ref_art) -> None:  # noqa: ANN001
        label = "parent" if self.reference_node is None else "parent (as ONNX, tf2onnx)"
        sizes = self.parent_sizes.result()
        ref = Candidate(label=label, status="reference", ratio=1.0, ratio_ci95=[1.0, 1.0],
                        settings=self._settings("onnxruntime"), size_bytes=sizes[0], size_gzip_bytes=sizes[1],
                        key=self.reference_node.key if self.reference_node else self.builder.root_key,
                        recipe=[{"pass": "tf2onnx", "config": self.reference_node.config}] if self.reference_node else [])
        timing = self.timer.ab(str(ref_art.onnx_file), "onnxruntime", SCREEN_S)
        ref.p50_ms, ref.ci95_ms = timing["reference_p50_ms"], timing["ci95_ms"]
        # a Keras parent's sizes are not its ONNX form's, which is what was timed
        self._timed(ref, timing["reference_samples"], SCREENING, timing["stopped_by"], SCREEN_S,
                    sized=self.reference_node is None)
        if self.eval_data is not None and self.eval_data.y is not None:
            ref.accuracy = measure(ref_art, self.eval_data, None)["accuracy"]
        self.reference = ref
        self.budget = judge.accuracy_budget(self.params, self.eval_data is not None and self.eval_data.y is not None,
                                            self.eval_data is not None and self.spec.get("dataset") is not None)

    def _skip(self, p: Plan, reason: str) -> None:
        self.rows.append(Candidate(label=p.label, runtime=p.runtime, status="skipped", reason=reason,
                                   recipe=self._recipe(p), settings=self._settings(p.runtime)))
        self.result.partial = True

    def _recipe(self, p: Plan) -> list[dict[str, Any]]:
        return [{"pass": name, "config": self.builder.full_config(name, cfg)} for name, cfg in p.steps]

    def _try(self, p: Plan, float_nodes: list[str] | None = None) -> Candidate:
        from engine.measure.benchmark import artifact_sizes

        c = Candidate(label=p.label, runtime=p.runtime, recipe=self._recipe(p), settings=self._settings(p.runtime),
                      float_nodes=float_nodes or [])
        self.rows.append(c)
        self._progress(f"building {p.label}")
        try:
            node = self.builder.build(p.steps)
            c.key = node.key
            c.float_nodes = c.float_nodes or self._kept_float(node)
            c.size_bytes, c.size_gzip_bytes = artifact_sizes(node.artifact.path)
            if self._same_as_reference(node):
                c.status, c.reason = "rejected", ("computes exactly what the parent does (the same operators and "
                                                  "weights), so there is no speed to gain")
                return c
            self._progress(f"timing {p.label} against the parent")
            timing = self.timer.ab(str(node.artifact.path), p.runtime, SCREEN_S)
            c.p50_ms, c.ci95_ms, c.ratio, c.ratio_ci95 = (timing["p50_ms"], timing["ci95_ms"], timing["ratio"],
                                                          timing["ratio_ci95"])
            self._timed(c, timing["samples"], SCREENING, timing["stopped_by"], SCREEN_S)
            if self.eval_data is not None:
                ref = self.reference_node.artifact if self.reference_node else self.parent
                c.accuracy, c.agreement = measure(node.artifact, self.eval_data, ref, self.eval_outputs).values()
                if self.spec.get("dataset") is None:
                    c.accuracy = None  # synthetic inputs: agreement only, no accuracy claim
        except EngineError as exc:
            c.status, c.reason = "failed", f"failed: {exc}"
            return c
        except Exception as exc:  # a library failure on one candidate must not end the search
            self.ctx.log.exception("candidate %s failed", p.label)
            c.status, c.reason = "failed", f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return c
        self._judge(c)
        return c

    def _timed(self, c: Candidate, samples: list[float], method: str, stopped_by: str, budget_s: float,
               sized: bool = True) -> None:
        """Keep ``c``'s timing for the commit to store as a benchmark (the finals' replace the screening's)."""
        self.timings[c.key] = timing_record(c.key, samples, method, c.settings, stopped_by, budget_s,
                                            c.ratio if c.status != "reference" else None,
                                            c.ratio_ci95 if c.status != "reference" else None,
                                            (c.size_bytes, c.size_gzip_bytes) if sized else (None, None))

    def _kept_float(self, node: Node | None) -> list[str]:
        """Layers a tfmot step of this candidate's chain could not wrap (they stayed float)."""
        names: list[str] = []
        while node is not None:
            names = list(node.metrics.get("float_layers") or []) + names
            node = self.builder.nodes.get(node.parent_key) if node.parent_key else None
        return names

    def _same_as_reference(self, node: Node) -> bool:
        from engine.measure.graph_identity import same_computation

        ref = self.reference_node.artifact if self.reference_node else self.parent
        return same_computation(ref.path, ref.format, node.artifact.path, node.artifact.format)

    def _judge(self, c: Candidate) -> None:
        miss = judge.accuracy_verdict(c, self.budget, self.reference.accuracy)
        if miss:
            c.status, c.reason = "rejected", miss
            return
        slow = judge.speed_reason(c) if self.params.objective != "size" else ""
        if slow and judge.slower(c):
            c.status, c.reason = "rejected", slow
            return
        c.status, c.reason = "accepted", slow or "within budget"

    def _fallback(self) -> None:
        """INT8 that missed the accuracy budget: keep the nodes that cost it in float, fewest first."""
        missed = [c for c in self.rows if c.status == "rejected" and c.reason.startswith(("accuracy", "top-1"))
                  and c.recipe and c.recipe[-1]["pass"] == "ort-quantize-static"]
        good_int8 = [c for c in self.rows if c.status == "accepted" and "INT8" in c.label]
        if not missed or good_int8 or self.eval_data is None or time.monotonic() > self.deadline:
            return
        closest = min(missed, key=lambda c: c.ratio or 9)
        steps = [(s["pass"], s["config"]) for s in closest.recipe]
        float_graph = self.builder.build(steps[:-1]).artifact.onnx_file
        qdq_steps = steps[:-1] + [("ort-quantize-static", {**steps[-1][1], "format": "qdq"})]
        self._progress("finding the nodes that cost accuracy")
        try:
            qdq = self.builder.build(qdq_steps).artifact.onnx_file
            ranked = [r for r in costly_nodes(float_graph, qdq, self.eval_data, self.ctx.work) if r["node"]]
        except Exception as exc:
            self.result.notes.append(f"The accuracy fallback could not compare activations ({exc}).")
            return
        sizes = sorted({min(2 ** i, len(ranked)) for i in range(len(ranked).bit_length() + 1)})
        for k in sizes:
            if time.monotonic() > self.deadline:
                self.result.partial = True
                return
            names = [r["node"] for r in ranked[:k]]
            cfg = {**steps[-1][1], "exclude_nodes": names}
            p = Plan(f"{closest.label}, {k} node(s) float", steps[:-1] + [("ort-quantize-static", cfg)],
                     family="int8-fallback", needs_data=True)
            c = self._try(p, names)
            self._live()
            if c.status in ("accepted", "rejected") and not c.reason.startswith(("accuracy", "top-1")):
                if c.ratio and closest.ratio:
                    c.reason = (f"{c.reason}; kept {', '.join(names)} in float: speed cost "
                                f"{c.ratio / closest.ratio:.2f}× the all-INT8 latency")
                return

    def _second_stage(self) -> None:
        """Post-training INT8 missed the accuracy budget and the data has labels: quantization-aware training
        of a Keras parent (one short fine-tune), converted to a Q/DQ ONNX model, within the time left.
        For ``size``, pruning then sparsity-preserving QAT, to full-integer TFLite (see ``_prune_qat``)."""
        if self.params.objective == "size":
            self._prune_qat()
            return
        missed = any(c.status == "rejected" and c.reason.startswith(("accuracy", "top-1")) and "INT8" in c.label
                     for c in self.rows)
        # INT8 that fits the budget and is faster (the fallback's, with nodes kept float) makes QAT moot
        accepted = any(c.status == "accepted" and "INT8" in c.label and judge.faster(c) for c in self.rows)
        labelled = self.data is not None and self.data.y is not None and self.spec.get("dataset") is not None
        if not missed or accepted or not labelled or self.parent.format != "keras" or self.params.target == "tflite":
            return
        if time.monotonic() > self.deadline - 30:
            self.result.notes.append("Quantization-aware training could have recovered INT8 accuracy; the time "
                                     "budget left no room for it.")
            return
        self._try(Plan("QAT INT8 (fine-tuned 2 epochs, Q/DQ ONNX)", [("qat", {"epochs": 2}), ("tf2onnx", {"opset": 17})],
                       family="qat", needs_data=True))
        self._live()

    def _prune_qat(self) -> None:
        """For size, with labels and a Keras parent: half the weights pruned while fine-tuning, then QAT that
        keeps those zeros, converted to full-integer TFLite (int8 weights; a Q/DQ ONNX file keeps them float).
        Sparse int8 weights are no smaller on disk but compress: the digits CNN's shipped (gzip) size went
        from 22.3 kB (static INT8 ONNX) to 15.0 kB at 98.4% held-out accuracy."""
        labelled = self.data is not None and self.data.y is not None and self.spec.get("dataset") is not None
        if not labelled or self.parent.format != "keras":
            return
        if self.params.target == "onnxruntime":
            self.result.notes.append("Pruning with quantization-aware training could make a smaller file; it ships "
                                     "int8 weights only as TFLite, which --target onnxruntime rules out.")
            return
        if time.monotonic() > self.deadline - 45:
            self.result.notes.append("Pruning with quantization-aware training could make a smaller file; the "
                                     "time budget left no room for it.")
            return
        self._try(Plan("pruned 50% + sparsity-preserving QAT, full-integer INT8 TFLite",
                       [("prune", {"target_sparsity": 0.5}), ("qat", {"epochs": 2, "preserve_sparsity": True}),
                        ("tflite", {"quantization": "int8"})], runtime="tflite", family="qat", needs_data=True))
        self._live()

    def _finals(self) -> None:
        """The best few, re-timed together with the reference in one round-robin loop: their ratios to the
        parent and to each other share the same rounds, so a tie between two finalists shows as one."""
        self.finalists: list[Candidate] = []
        self.final_pairs: dict[str, list[float]] = {}
        if self.params.objective == "size":
            return
        ok = sorted((c for c in self.rows if c.status == "accepted" and c.ratio is not None), key=lambda c: c.ratio)
        finalists = ok[:FINALISTS]
        if not finalists:
            return
        if time.monotonic() > self.deadline:
            self.result.partial = True
            return
        self._progress(f"final timing, round-robin with the parent: {', '.join(c.label for c in finalists)}")
        out = self.timer.round_robin([(str(self.builder.nodes[c.key].artifact.path), c.runtime) for c in finalists],
                                     FINAL_S * len(finalists))
        self.reference.p50_ms, self.reference.ci95_ms = out["reference_p50_ms"], out["reference_ci95_ms"]
        budget = FINAL_S * len(finalists)
        self._timed(self.reference, out["reference_samples"], FINAL, out["stopped_by"], budget,
                    sized=self.reference_node is None)
        for c, t in zip(finalists, out["candidates"]):
            c.p50_ms, c.ci95_ms, c.ratio, c.ratio_ci95 = t["p50_ms"], t["ci95_ms"], t["ratio"], t["ratio_ci95"]
            self._timed(c, t["samples"], FINAL, out["stopped_by"], budget)
            self._judge(c)
        self.finalists, self.final_pairs = finalists, out["pairs"]
        self._live()

    def _break_tie(self, fastest: Candidate, ok: list[Candidate]) -> Candidate:
        """Finalists not slower than the fastest beyond the noise (their ratio to it, from the same rounds)
        are a tie on speed: the one with the best accuracy (or agreement), then the smallest, is chosen,
        and a note names the others."""
        if fastest not in self.finalists:
            return fastest
        i = self.finalists.index(fastest)
        tied = []
        for j, c in enumerate(self.finalists):
            if c is fastest or c not in ok:
                continue
            r, lo, hi = self.final_pairs[f"{i},{j}"]
            if not judge.slower(Candidate(ratio=r, ratio_ci95=[lo, hi])):
                tied.append((c, r, lo, hi))
        if not tied:
            return fastest

        def quality(c: Candidate) -> tuple:
            return (-(c.accuracy if c.accuracy is not None else -1.0), -(c.agreement if c.agreement is not None
                                                                          else -1.0), c.size_bytes or 0, c.ratio)

        chosen = min([fastest] + [t[0] for t in tied], key=quality)
        figures = "; ".join(f"{c.label} {r:.2f}× its latency (95% CI {lo:.2f}–{hi:.2f})" for c, r, lo, hi in tied)
        why = ("the fastest measured" if chosen is fastest else
               "better accuracy" if (chosen.accuracy or 0) > (fastest.accuracy or 0) else
               "better agreement with the parent" if (chosen.agreement or 0) > (fastest.agreement or 0) else
               "smaller" if (chosen.size_bytes or 0) < (fastest.size_bytes or 0) else "as good")
        self.result.notes.append(f"In the final round-robin, these ran within the noise of {fastest.label}: "
                                 f"{figures}. They tie on speed; {chosen.label} is recommended ({why}).")
        return chosen

    def _finish(self) -> dict[str, Any]:
        ref = self.reference
        ok = [c for c in self.rows if c.status == "accepted" and c.ratio is not None]
        if self.params.objective == "size":
            ok = [c for c in ok if _shipped(c) and _shipped(ref) and _shipped(c) < _shipped(ref)]
        else:
            ok = [c for c in ok if judge.faster(c)]
        best = min(ok, key=self._score) if ok else None
        if best is not None and self.params.objective != "size":
            best = self._break_tie(best, ok)
        if best is not None:
            best.status = "recommended"
        self._tune(best or ref)
        reason = self._none_reason() if best is None else ""
        self.result.explanation = judge.explanation(best, ref, self.params, self.hardware, reason)
        self.result.settings = (best or ref).settings
        self.result.pareto = []
        self._live()
        doc = json.loads((self.ctx.scratch / "live.json").read_text())
        doc["recommended_key"] = best.key if best else (ref.key or None)
        doc["pareto_keys"] = [c.key for c in judge.pareto([ref] + [c for c in self.rows if not c.session_trial])]
        return doc

    def _tune(self, chosen: Candidate) -> None:
        """Session settings beyond threads, for the artifact the search chose: each trial is timed
        interleaved against the same model under the default (sequential execution, opt level all) and
        kept only when it is faster beyond the noise. Each trial is a row of the table, tied to its model."""
        if chosen.runtime != "onnxruntime" or self.params.objective == "size":
            return
        node = self.builder.nodes.get(chosen.key)
        path = str(node.artifact.onnx_file) if node else str(self.parent.onnx_file)
        best: Candidate | None = None
        for mode, level in SETTINGS_TRIALS:
            if mode == "parallel" and self.threads < 2:
                continue
            if mode == "parallel" and one_compute_chain(path):
                self.rows.append(Candidate(
                    key=chosen.key, session_trial=True, label=f"{chosen.label} · {mode} execution, opt level {level}",
                    recipe=chosen.recipe, runtime="onnxruntime", status="skipped", reason=SERIAL_GRAPH,
                    settings={**chosen.settings, "execution_mode": mode, "opt_level": level}))
                continue
            if time.monotonic() > self.deadline:
                self.result.partial = True
                break
            self._progress(f"session settings: {mode} execution, opt level {level}")
            t = self.timer.settings_ab(path, mode, level, SCREEN_S)
            row = Candidate(key=chosen.key, session_trial=True, label=f"{chosen.label} · {mode} execution, opt level {level}",
                            recipe=chosen.recipe, runtime="onnxruntime", p50_ms=t["p50_ms"], ci95_ms=t["ci95_ms"],
                            size_bytes=chosen.size_bytes, size_gzip_bytes=chosen.size_gzip_bytes, accuracy=chosen.accuracy, agreement=chosen.agreement,
                            settings={**chosen.settings, "execution_mode": mode, "opt_level": level})
            trial = Candidate(ratio=t["ratio"], ratio_ci95=t["ratio_ci95"])
            lo, hi = t["ratio_ci95"]
            figures = f"{t['ratio']:.2f}× the latency under sequential execution at opt level all (95% CI {lo:.2f}–{hi:.2f})"
            if judge.faster(trial):
                row.status, row.reason = "accepted", f"session setting: {figures}"
                if best is None or t["ratio"] < best_ratio:
                    best, best_ratio = row, t["ratio"]
            else:
                row.status, row.reason = "rejected", f"session setting: {figures}, not faster beyond the noise"
            self.rows.append(row)
            self._live()
        if best is not None:
            chosen.settings = dict(best.settings)
            self.result.notes.append(f"Session settings: {best.reason.removeprefix('session setting: ')} with "
                                     f"{best.settings['execution_mode']} execution at opt level "
                                     f"{best.settings['opt_level']}; the recommendation is served with them.")

    def _none_reason(self) -> str:
        tried = [c for c in self.rows if c.status != "skipped"]
        if not tried:
            return "No candidate could be tried within the budget; give the search more time."
        close = sorted((c for c in tried if c.ratio is not None), key=lambda c: c.ratio)[:2]
        hints = "; ".join(f"{c.label}: {c.reason}" for c in close)
        relax = (" Relax the accuracy budget (--max-accuracy-drop or --min-fidelity), or give labelled data for "
                 "the fallback."
                 if any(c.reason.startswith(("accuracy", "top-1")) for c in tried) else "")
        return (f"Nothing met the goal: no candidate was faster than the parent beyond the noise within the "
                f"accuracy budget. Closest: {hints or 'none measured'}.{relax}")


def _n_rows(data) -> int:  # noqa: ANN001
    first = next(iter(data.x.values())) if isinstance(data.x, dict) else data.x
    return int(len(first))


def run_search(spec: dict[str, Any], ctx) -> dict[str, Any]:  # noqa: ANN001
    return Search(spec, ctx).run()


def _shipped(c: Candidate) -> int:
    """Bytes as a bundle ships the artifact (compressed: sparsity only pays there), else bytes on disk."""
    return int(c.size_gzip_bytes or c.size_bytes or 0)
