"""What the fine-tuning passes (prune, cluster, qat, distill) share: data, loss, a progress callback,
weight statistics and gzip sizes. Imported only inside their ``run()``; imports TF lazily too."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.passes.base import PassContext


def labelled_data(ctx: PassContext, pass_name: str) -> tuple[Any, np.ndarray]:
    """(x, y) from the context's data set; InputError when it is missing or has no labels."""
    if ctx.dataset is None or ctx.dataset.y is None:
        raise InputError(f"pass '{pass_name}' fine-tunes the model and needs a labelled data set (x and y); "
                         "pass one with --dataset.")
    x = ctx.dataset.x
    x = {k: np.asarray(v) for k, v in x.items()} if isinstance(x, dict) else np.asarray(x)
    return x, np.asarray(ctx.dataset.y)


def as_model_input(model: Any, x: Any) -> Any:
    """A dict data set as the list a multi-input model takes, in its input order."""
    if not isinstance(x, dict):
        return x
    names = [t.name.split(":")[0] for t in model.inputs]
    values = list(x.values())
    return [x.get(n, values[i]) for i, n in enumerate(names)]


def outputs_probabilities(model: Any) -> bool:
    """True when the model's last layer ends in softmax (so its outputs are probabilities, not logits).

    Pruning and quantization wrappers hide the wrapped layer (and QAT wraps its activation too), so
    unwrap both before reading the name.
    """
    last = model.layers[-1]
    layer = getattr(last, "layer", last)
    activation = getattr(layer, "activation", None)
    inner = getattr(activation, "activation", None)
    names = {type(layer).__name__, getattr(activation, "__name__", ""), getattr(inner, "__name__", "")}
    return "Softmax" in names or "softmax" in names


def loss_for(model: Any, y: np.ndarray, keras: Any) -> Any:
    """Cross-entropy for class labels (sparse or one-hot), mean squared error otherwise."""
    from_logits = not outputs_probabilities(model)
    out_dims = len(model.outputs[0].shape)
    if np.issubdtype(y.dtype, np.integer) and y.ndim == out_dims - 1:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    if y.ndim == out_dims and y.shape[-1] == model.outputs[0].shape[-1] and y.shape[-1] > 1 \
            and np.allclose(y.sum(-1), 1.0):
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    return keras.losses.MeanSquaredError()


def accuracy(model: Any, x: Any, y: np.ndarray) -> float | None:
    """Top-1 accuracy for class labels, else None."""
    if not np.issubdtype(y.dtype, np.integer):
        return None
    predictions = np.asarray(model.predict(as_model_input(model, x), batch_size=64, verbose=0))
    if predictions.ndim != 2:
        return None
    return float(np.mean(predictions.argmax(1) == y.reshape(-1)))


def progress_callback(keras: Any, ctx: PassContext, epochs: int, start: float, span: float, what: str) -> Any:
    class _Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            loss = (logs or {}).get("loss")
            note = f", loss {loss:.4f}" if loss is not None else ""
            ctx.progress(start + span * (epoch + 1) / max(epochs, 1), f"{what}: epoch {epoch + 1}/{epochs}{note}")
    return _Progress()


def kernels(model: Any) -> dict[str, np.ndarray]:
    """Each layer's main weight (kernel / depthwise kernel / embeddings) by layer name."""
    out: dict[str, np.ndarray] = {}
    for layer in model.layers:
        for weight in layer.weights:
            name = weight.name.split("/")[-1].split(":")[0]
            if name in ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings"):
                out[f"{layer.name}/{name}"] = np.asarray(weight.numpy())
    return out


def weights_gzip_bytes(model: Any) -> int:
    """Size of all weights gzip-compressed: what sparsity and clustering save in a compressed download."""
    raw = b"".join(np.asarray(w, dtype=np.float32).tobytes() for w in model.get_weights())
    return len(gzip.compress(raw, compresslevel=6))


def save_compressed(model: Any, scratch: Path, parent_gzip: int) -> tuple[Path, dict[str, Any]]:
    """Save a stripped model as ``model.h5`` and report what gzip makes of its weights against the parent's:
    sparsity and shared weights only pay off in a compressed download."""
    out = scratch / "model.h5"
    model.save(str(out), save_format="h5")
    child = weights_gzip_bytes(model)
    return out, {"weights_gzip_bytes": child, "parent_weights_gzip_bytes": parent_gzip,
                 "gzip_ratio": parent_gzip / max(child, 1)}


def params(model: Any) -> int:
    return int(sum(np.prod(w.shape) for w in model.get_weights()))


KERNEL_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "Dense", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
                 "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")


def has_kernel(layer: Any) -> bool:
    """Layers worth pruning and clustering: convolutions and dense layers."""
    return type(layer).__name__ in KERNEL_LAYERS


def wrapper(wrap: Any) -> tuple[Any, list[str]]:
    """(a clone function applying ``wrap`` to kernel layers, the names of those tfmot refused to wrap).

    tfmot's registries do not cover every kernel layer (pruning has no Conv1DTranspose, for one): such a
    layer is kept as it is, and named, rather than failing the whole model."""
    refused: list[str] = []

    def clone(layer: Any) -> Any:
        if not has_kernel(layer):
            return layer
        try:
            return wrap(layer)
        except (ValueError, TypeError, NotImplementedError):
            refused.append(layer.name)
            return layer
    return clone, refused


def unwrapped_metrics(names: list[str], verb: str, state: str) -> dict[str, Any]:
    """``float_layers`` and a warning naming the layers a tfmot pass left as they were."""
    if not names:
        return {}
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return {"float_layers": names,
            "warnings": [f"tfmot cannot {verb} {len(names)} layer(s), which stay {state}: {shown}"]}


def n_rows(x: Any) -> int:
    first = next(iter(x.values())) if isinstance(x, dict) else x
    return int(first.shape[0])
