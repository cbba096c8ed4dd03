"""Magnitude pruning with tensorflow-model-optimization: fine-tune while zeroing the smallest weights.

tfmot wraps tf-keras (Keras 2) layers only, so Keras 3 models are bridged first (``engine.bridge``).
The pruned model is stripped of its wrappers and saved as a tf-keras ``.h5``. Sparse weights do not make
dense kernels faster; they make the download smaller once compressed (reported as gzip sizes).
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec


class Config(PassConfig):
    target_sparsity: float = Field(0.5, description="Fraction of each pruned kernel set to zero, between 0 and 1.")
    schedule: Literal["polynomial", "constant"] = Field(
        "polynomial", description="polynomial: sparsity ramps from 0 to the target over the first 70% of "
                                  "training; constant: the target from the first step.")
    epochs: int = Field(2, ge=1, le=1000, description="Fine-tuning epochs over the data set.")
    batch_size: int = Field(32, ge=1, le=4096, description="Fine-tuning batch size.")
    learning_rate: float = Field(1e-3, gt=0, le=1, description="Adam learning rate for fine-tuning.")

    @field_validator("target_sparsity")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"target_sparsity must be between 0 and 1 (exclusive), got {value}")
        return value


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    from engine.bridge import keras3_to_tf_keras
    from engine.passes import finetune as ft

    x, y = ft.labelled_data(ctx, "prune")
    import tensorflow_model_optimization as tfmot
    import tf_keras

    ctx.progress(0.05, "loading the model as tf-keras")
    model = keras3_to_tf_keras(source.path)
    parent_gzip = ft.weights_gzip_bytes(model)
    sparsity = tfmot.sparsity.keras
    total_steps = math.ceil(ft.n_rows(x) / config.batch_size) * config.epochs
    if config.schedule == "constant":
        frequency = max(1, total_steps // 10)
        schedule = sparsity.ConstantSparsity(config.target_sparsity, begin_step=0, frequency=frequency)
    else:
        end = max(1, int(total_steps * 0.7))
        frequency = max(1, end // 10)
        schedule = sparsity.PolynomialDecay(0.0, config.target_sparsity, begin_step=0,
                                            end_step=frequency * (end // frequency), frequency=frequency)

    wrap, dense = ft.wrapper(lambda layer: sparsity.prune_low_magnitude(layer, pruning_schedule=schedule))
    try:
        pruned = tf_keras.models.clone_model(model, clone_function=wrap)
    except Exception as exc:
        raise PassError(f"tfmot could not wrap this model for pruning ({exc}).") from exc
    pruned.compile(optimizer=tf_keras.optimizers.Adam(config.learning_rate), loss=ft.loss_for(pruned, y, tf_keras))
    ctx.progress(0.1, f"fine-tuning with pruning to {config.target_sparsity:.0%}")
    pruned.fit(ft.as_model_input(pruned, x), y, batch_size=config.batch_size, epochs=config.epochs, verbose=0,
               callbacks=[sparsity.UpdatePruningStep(),
                          ft.progress_callback(tf_keras, ctx, config.epochs, 0.1, 0.8, "pruning")])
    stripped = sparsity.strip_pruning(pruned)
    out, sizes = ft.save_compressed(stripped, ctx.scratch, parent_gzip)
    kernels = ft.kernels(stripped)
    per_layer = {name: float((k == 0).mean()) for name, k in kernels.items()}
    zeros = sum(float((k == 0).sum()) for k in kernels.values())
    total = sum(k.size for k in kernels.values())
    ctx.progress(1.0, "pruned")
    return PassResult(Artifact(out, "keras"), {
        "sparsity": zeros / max(total, 1), "sparsity_per_layer": per_layer, **sizes,
        **ft.unwrapped_metrics(dense, "prune", "dense")})


PASS = PassSpec(
    name="prune",
    summary="Prune the smallest weights to a target sparsity while fine-tuning (tensorflow-model-optimization).",
    accepts=("keras",),
    produces="keras",
    config=Config,
    run=run,
    kind="compression",
    needs="labels",
)
