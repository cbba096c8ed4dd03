"""Quality of a model on a data set: task metrics from the labels, and fidelity to its parent.

Runs in batches through ``engine.runtime.open_model`` (the same predictors the fidelity gate uses).
The task is read from the data: integer labels with a multi-column output are classification, float
labels are regression; integer labels with a single output column are binary classification at 0.5.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from engine.artifact import Artifact
from engine.errors import InputError
from engine.formats.datasets import DatasetArrays
from engine.runtime import Predictor, open_model


def _fixed(dim: Any) -> bool:
    return isinstance(dim, int) and dim > 0


def _columns(predictor: Predictor, x: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The data set's arrays keyed by the model's input names, shapes checked, dtypes cast."""
    specs = predictor.inputs
    if isinstance(x, dict):
        if set(x) == {s["name"] for s in specs}:
            arrays = [x[s["name"]] for s in specs]
        elif len(x) == len(specs):  # names differ (a converter renamed them): match by position
            arrays = list(x.values())
        else:
            raise InputError(f"the data set has inputs {sorted(x)} but the model expects "
                             f"{[s['name'] for s in specs]}")
    elif len(specs) == 1:
        arrays = [x]
    else:
        raise InputError(f"the model has {len(specs)} inputs; give the data set's x as a dict by input name "
                         f"({', '.join(s['name'] for s in specs)})")
    out = {}
    for spec, arr in zip(specs, arrays):
        arr = np.asarray(arr)
        want = list(spec["shape"])
        fits = arr.ndim == len(want) and all(not _fixed(w) or w == a for w, a in zip(want[1:], arr.shape[1:]))
        if not fits:
            shown = tuple(None if not _fixed(w) else w for w in want)
            raise InputError(f"the data set's samples have shape {arr.shape[1:]} but the model's input "
                             f"'{spec['name']}' expects {shown[1:]} (batch first); reshape the data set to match")
        out[spec["name"]] = arr.astype(spec["dtype"], copy=False)
    return out


def _predict(predictor: Predictor, columns: dict[str, np.ndarray], batch_size: int,
             progress: Callable[[float, str], None], start: float, span: float) -> list[np.ndarray]:
    first = predictor.inputs[0]["shape"][0] if predictor.inputs[0]["shape"] else None
    step = first if _fixed(first) else batch_size  # a model exported with a fixed batch takes only that
    n = len(next(iter(columns.values())))
    chunks: list[list[np.ndarray]] = []
    for lo in range(0, n, step):
        batch = {k: v[lo:lo + step] for k, v in columns.items()}
        short = len(next(iter(batch.values())))
        if short < step and _fixed(first):  # pad the last batch to the fixed size, then trim
            batch = {k: np.concatenate([v, np.repeat(v[-1:], step - short, axis=0)]) for k, v in batch.items()}
        chunks.append([o[:short].astype(np.float32) if o.dtype == np.float16 else o[:short]
                       for o in predictor.run(batch)])
        done = min(lo + step, n)
        progress(start + span * done / n, f"evaluated {done}/{n} samples")
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]


def infer_task(y: np.ndarray, output: np.ndarray) -> str:
    """Integer (or one-hot) labels are classification; float labels are regression."""
    if np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_):
        return "classification"
    width = int(np.prod(output.shape[1:])) if output.ndim > 1 else 1
    if y.ndim == 2 and y.shape[1] == width > 1 and np.isin(y, (0, 1)).all():
        return "classification"
    return "regression"


def _classification(y: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    scores = out.reshape(len(out), -1)
    y = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] == scores.shape[1] > 1 else y.reshape(-1)
    y = y.astype(np.int64)
    top5 = None
    if scores.shape[1] == 1:  # one sigmoid column: binary at 0.5
        pred = (scores[:, 0] > 0.5).astype(np.int64)
    else:
        pred = scores.argmax(axis=1)
        if scores.shape[1] >= 5:
            top = np.argpartition(-scores, 4, axis=1)[:, :5]
            top5 = float(np.mean(np.any(top == y[:, None], axis=1)))
    per_class = {str(int(c)): float(np.mean(pred[y == c] == c)) for c in np.unique(y)}
    return {"accuracy": float(np.mean(pred == y)), "top5_accuracy": top5, "per_class_accuracy": per_class}


def _fidelity(out: list[np.ndarray], ref: list[np.ndarray]) -> dict[str, Any]:
    a, b = out[0].reshape(len(out[0]), -1).astype(np.float64), ref[0].reshape(len(ref[0]), -1).astype(np.float64)
    if a.shape != b.shape:
        raise InputError(f"the model's output has shape {out[0].shape[1:]} but its parent's has "
                         f"{ref[0].shape[1:]}; they cannot be compared")
    if a.shape[1] > 1:
        agreement = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    else:
        agreement = float(np.mean(np.isclose(a, b, rtol=1e-2, atol=1e-3).all(axis=1)))
    diffs = [np.abs(o.astype(np.float64) - r.astype(np.float64)) for o, r in zip(out, ref) if o.shape == r.shape]
    return {"agreement": agreement, "max_abs_diff": float(max(d.max() for d in diffs)),
            "mean_abs_diff": float(np.mean(np.abs(a - b)))}


def predictions(artifact: Artifact, dataset: DatasetArrays, batch_size: int = 64) -> list[np.ndarray]:
    """``artifact``'s outputs on every row of ``dataset`` (what ``evaluate`` compares a child with)."""
    predictor = open_model(artifact)
    return _predict(predictor, _columns(predictor, dataset.x), batch_size, lambda f, m: None, 0.0, 1.0)


def evaluate(artifact: Artifact, dataset: DatasetArrays, parent: Artifact | None = None,
             task: str | None = None, batch_size: int = 64,
             progress: Callable[[float, str], None] = lambda f, m: None,
             parent_outputs: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Metrics of ``artifact`` on ``dataset`` (when it has labels) and its fidelity to ``parent``
    (``parent_outputs``: the parent's ``predictions`` on ``dataset``, when the caller already has them).

    Raises InputError when the data does not fit the model or there is nothing to measure, and
    FormatError when a model cannot be opened.
    """
    if dataset.y is None and parent is None:
        raise InputError("the data set has no labels and no parent model was given; add labels (y) "
                         "or evaluate a derived model against its parent")
    if task not in (None, "classification", "regression"):
        raise InputError(f"task must be classification or regression, got {task!r}")
    predictor = open_model(artifact)
    span = 0.5 if parent is not None else 1.0
    out = _predict(predictor, _columns(predictor, dataset.x), batch_size, progress, 0.0, span)
    result: dict[str, Any] = {"n_samples": int(len(out[0])), "task": None, "metrics": {}, "fidelity": None}
    if dataset.y is not None:
        y = np.asarray(dataset.y)
        if len(y) != len(out[0]):
            raise InputError(f"the data set has {len(out[0])} samples but {len(y)} labels; give one label per sample")
        result["task"] = task or infer_task(y, out[0])
        if result["task"] == "classification":
            result["metrics"] = _classification(y, out[0])
        else:
            diff = out[0].reshape(len(y), -1).astype(np.float64) - y.reshape(len(y), -1).astype(np.float64)
            result["metrics"] = {"mae": float(np.mean(np.abs(diff))), "mse": float(np.mean(diff ** 2))}
    if parent is not None:
        ref = parent_outputs
        if ref is None:
            reference = open_model(parent)
            ref = _predict(reference, _columns(reference, dataset.x), batch_size, progress, 0.5, 0.5)
        result["fidelity"] = _fidelity(out, ref)
    progress(1.0, "evaluation done")
    return result
