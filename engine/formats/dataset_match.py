"""Does a data set fit a model? One sentence saying exactly what does not."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import FidelityError, InputError
from engine.formats.datasets import DatasetArrays


def _samples(data: dict[str, Any] | DatasetArrays) -> tuple[dict[str, tuple[list[int], str]], tuple[int, int] | None]:
    """({input name or '': (per-sample shape, dtype)}, label (min, max) or None)."""
    if isinstance(data, DatasetArrays):
        xs = data.x if isinstance(data.x, dict) else {"": data.x}
        shapes = {k: ([int(d) for d in v.shape[1:]], v.dtype.name) for k, v in xs.items()}
        y = data.y
        labels = (int(y.min()), int(y.max())) if y is not None and y.size and y.dtype.kind in "iu" else None
        return shapes, labels
    shape = data["x_shape"]
    shapes = ({k: (list(v[1:]), data["x_dtype"][k] if isinstance(data["x_dtype"], dict) else data["x_dtype"])
               for k, v in shape.items()} if isinstance(shape, dict) else {"": (list(shape[1:]), data["x_dtype"])})
    rng = data.get("label_range")
    if rng is None and data.get("has_labels") and data.get("n_classes"):
        rng = (0, int(data["n_classes"]) - 1)
    return shapes, (tuple(rng) if rng else None)


def _fits(sample: list[int], expected: list[Any]) -> bool:
    return len(sample) == len(expected) and all(
        not isinstance(e, int) or e < 0 or e == s for s, e in zip(sample, expected))


def _check_input(name: str, sample: list[int], dtype: str, spec: dict[str, Any]) -> None:
    expected = list(spec.get("shape") or [])[1:]
    if not _fits(sample, expected):
        shown = [e if isinstance(e, int) else "?" for e in expected]
        if len(sample) == 3 and len(expected) == 3:
            if _fits([sample[1], sample[2], sample[0]], expected):
                raise InputError(f"the data set's images are channels-first (NCHW, {sample}) but the model "
                                 f"input '{spec['name']}' expects channels-last (NHWC, {shown}); transpose x "
                                 "to (n, height, width, channels)")
            if _fits([sample[2], sample[0], sample[1]], expected):
                raise InputError(f"the data set's images are channels-last (NHWC, {sample}) but the model "
                                 f"input '{spec['name']}' expects channels-first (NCHW, {shown}); transpose x "
                                 "to (n, channels, height, width)")
        raise InputError(f"each sample of the data set{_named(name)} has shape {sample} but the model input "
                         f"'{spec['name']}' expects {shown}; reshape or resize the data to match")
    model_kind = np.dtype(spec.get("dtype") or "float32").kind
    data_kind = np.dtype(dtype).kind
    if model_kind in "iub" and data_kind == "f":
        raise InputError(f"the data set{_named(name)} holds floating-point values but the model input "
                         f"'{spec['name']}' expects {spec['dtype']} (e.g. token ids); store integer ids")


def _named(name: str) -> str:
    return f" array 'x_{name}'" if name else ""


def check_dataset_for_model(meta_or_arrays: dict[str, Any] | DatasetArrays, model_inputs: list[dict[str, Any]],
                            model_outputs: list[dict[str, Any]]) -> None:
    """Raise InputError with one sentence when the data set cannot be fed to the model: number of inputs,
    per-sample shape, NCHW/NHWC layout, dtype kind, or labels outside the model's output classes."""
    samples, labels = _samples(meta_or_arrays)
    if len(samples) != len(model_inputs):
        raise InputError(f"the model takes {len(model_inputs)} inputs but the data set provides "
                         f"{len(samples)}; save one array 'x_<input name>' per input")
    if "" in samples:
        sample, dtype = samples[""]
        _check_input("", sample, dtype, model_inputs[0])
    else:
        for spec in model_inputs:
            if spec["name"] not in samples:
                raise InputError(f"the data set has no array for the model input '{spec['name']}'; "
                                 f"save it as 'x_{spec['name']}'")
            _check_input(spec["name"], *samples[spec["name"]], spec)
    if labels is None or not model_outputs:
        return
    dims = (model_outputs[0].get("shape") or [None])[1:]
    if not dims or not all(isinstance(d, int) and d >= 1 for d in dims):
        return
    width = int(np.prod(dims))  # (1000, 1, 1) score maps count as 1000 classes, as evaluation flattens them
    n_classes = 2 if width == 1 else width  # one sigmoid unit: labels 0/1
    low, high = labels
    if low < 0 or high >= n_classes:
        raise InputError(f"the data set's labels run from {low} to {high} but the model's output has "
                         f"{n_classes} classes (0..{n_classes - 1}); relabel the data or pick the matching model")


def _clean(name: str) -> str:
    name = name.split(":")[0]
    for prefix in ("serving_default_",):
        name = name.removeprefix(prefix)
    return name


def match_inputs(inputs: list[dict[str, Any]], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Feeds in the order of ``inputs``: by exact name, then by name without ``:0``/``serving_default_``
    decorations, then the remaining feeds by position (names differ across formats)."""
    clean = {_clean(k): k for k in feeds}
    chosen: list[str | None] = []
    for spec in inputs:
        name = spec["name"]
        key = name if name in feeds else clean.get(_clean(name))
        chosen.append(key)
    spare = iter(k for k in feeds if k not in chosen)
    out = []
    for spec, key in zip(inputs, chosen):
        key = key if key is not None else next(spare, None)
        if key is None:
            raise FidelityError(f"the model needs an input '{spec['name']}' the sample data does not provide.")
        out.append(feeds[key])
    return out
