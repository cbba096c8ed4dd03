"""Fidelity of a derived model to its parent: sample inputs, run both models, compare the outputs.

``engine.passes.gate`` decides from these numbers whether a pass's output may be stored.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.artifact import Artifact
from engine.errors import FidelityError
from engine.formats.dataset_match import match_inputs
from engine.formats.datasets import DatasetArrays

INT_HIGH = 16  # generated integer inputs (token ids) stay in [0, 16): valid for any vocabulary of 16+
DYNAMIC_DIM = 8  # non-batch dynamic dimensions (sequence length) in generated inputs


def sample_feeds(inputs: list[dict[str, Any]], n: int = 32, seed: int = 0,
                 dataset: DatasetArrays | None = None) -> dict[str, np.ndarray]:
    """``n`` input rows by input name: the dataset's first rows when given, else generated from the
    signature (floats uniform in [0, 1), integers in [0, 16); batch = n, other dynamic dims = 8)."""
    if dataset is not None:
        return _from_dataset(inputs, n, dataset)
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in inputs:
        shape = list(spec.get("shape") or [])
        dims = [n if i == 0 else (d if isinstance(d, int) and d > 0 else DYNAMIC_DIM) for i, d in enumerate(shape)]
        dtype = np.dtype(spec.get("dtype") or "float32")
        if np.issubdtype(dtype, np.integer):
            feeds[spec["name"]] = rng.integers(0, INT_HIGH, size=dims).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec["name"]] = rng.integers(0, 2, size=dims).astype(bool)
        else:
            feeds[spec["name"]] = rng.random(dims).astype(dtype)
    return feeds


def _from_dataset(inputs: list[dict[str, Any]], n: int, dataset: DatasetArrays) -> dict[str, np.ndarray]:
    if isinstance(dataset.x, dict):
        values = match_inputs(inputs, dataset.x)
    else:
        values = [dataset.x]
    return {spec["name"]: np.asarray(v[:n]) for spec, v in zip(inputs, values)}


def _predict(predictor: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    values = match_inputs(predictor.inputs, feeds)
    cast = {spec["name"]: np.asarray(v).astype(spec.get("dtype") or v.dtype, copy=False)
            for spec, v in zip(predictor.inputs, values)}
    batch = next(iter(cast.values())).shape[0] if cast else 1
    fixed = predictor.inputs[0]["shape"][0] if predictor.inputs and predictor.inputs[0]["shape"] else None
    step = fixed if isinstance(fixed, int) and fixed > 0 and fixed != batch else batch
    chunks = [predictor.run({k: v[s:s + step] for k, v in cast.items()}) for s in range(0, batch, step)]
    return [np.concatenate([c[i] for c in chunks]).astype(np.float32) for i in range(len(chunks[0]))]


def reference_feeds(model: Artifact, n: int, dataset: DatasetArrays | None) -> tuple[dict[str, np.ndarray],
                                                                                      list[np.ndarray]]:
    """(``n`` sample rows for ``model``, see ``sample_feeds``; the model's outputs on them), opening it once."""
    from engine.runtime import open_model

    predictor = open_model(model)
    feeds = sample_feeds(predictor.inputs, n=n, dataset=dataset)
    return feeds, _predict(predictor, feeds)


def compare(parent: Artifact, child: Artifact, feeds: dict[str, np.ndarray],
            parent_outputs: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Run both models on ``feeds``: ``max_abs_diff``, ``mean_rel_diff`` (mean |Δ| over mean |parent|),
    ``output_scale`` (max |parent|), ``top1_agreement`` (first output, when it is (batch, classes);
    else None) and ``samples``. ``parent_outputs``: the parent's outputs on ``feeds``, already computed."""
    from engine.runtime import open_model

    a = parent_outputs if parent_outputs is not None else _predict(open_model(parent), feeds)
    b = _predict(open_model(child), feeds)
    if len(a) != len(b):
        raise FidelityError(f"the derived model has {len(b)} outputs where its parent has {len(a)}.")
    max_abs, rel, scale = 0.0, [], 0.0
    for pa, pb in zip(a, b):
        if pa.shape != pb.shape:
            pb = pb.reshape(pa.shape) if pb.size == pa.size else pb
        if pa.shape != pb.shape:
            raise FidelityError(f"the derived model's output shape {pb.shape} differs from its parent's {pa.shape}.")
        diff = np.abs(pa - pb)
        max_abs = max(max_abs, float(diff.max(initial=0.0)))
        scale = max(scale, float(np.abs(pa).max(initial=0.0)))
        rel.append(float(diff.mean() / (np.abs(pa).mean() + 1e-12)))
    top1 = None
    if a[0].ndim == 2 and a[0].shape[1] > 1:
        top1 = float(np.mean(a[0].argmax(1) == b[0].argmax(1)))
    return {"max_abs_diff": max_abs, "mean_rel_diff": float(np.mean(rel)) if rel else 0.0,
            "output_scale": scale, "top1_agreement": top1, "samples": int(a[0].shape[0]) if a[0].ndim else 1}
