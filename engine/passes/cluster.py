"""Weight clustering with tensorflow-model-optimization: each kernel keeps at most ``clusters`` distinct
values (shared centroids), fine-tuned on labelled data. Like pruning, this shrinks the compressed
download, not the dense compute. Keras 3 models are bridged to tf-keras; output is a tf-keras ``.h5``.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.artifact import Artifact
from engine.errors import PassError
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec


class Config(PassConfig):
    clusters: int = Field(16, ge=2, le=256, description="Distinct weight values per kernel (2–256; 16 ≈ 4 bits).")
    init: Literal["kmeans_plus_plus", "linear", "density_based", "random"] = Field(
        "kmeans_plus_plus", description="How the initial centroids are placed.")
    epochs: int = Field(2, ge=0, le=1000, description="Fine-tuning epochs after clustering (0: cluster only).")
    batch_size: int = Field(32, ge=1, le=4096, description="Fine-tuning batch size.")
    learning_rate: float = Field(1e-4, gt=0, le=1, description="Adam learning rate for fine-tuning.")


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    from engine.bridge import keras3_to_tf_keras
    from engine.passes import finetune as ft

    x, y = ft.labelled_data(ctx, "cluster")
    import numpy as np
    import tensorflow_model_optimization as tfmot
    import tf_keras

    clustering = tfmot.clustering.keras
    ctx.progress(0.05, "loading the model as tf-keras")
    model = keras3_to_tf_keras(source.path)
    parent_gzip = ft.weights_gzip_bytes(model)
    init = getattr(clustering.CentroidInitialization, config.init.upper())

    wrap, dense = ft.wrapper(lambda layer: clustering.cluster_weights(
        layer, number_of_clusters=config.clusters, cluster_centroids_init=init))

    ctx.progress(0.1, f"clustering kernels into {config.clusters} values")
    try:
        clustered = tf_keras.models.clone_model(model, clone_function=wrap)
    except Exception as exc:
        raise PassError(f"tfmot could not cluster this model's weights ({exc}).") from exc
    if config.epochs:
        clustered.compile(optimizer=tf_keras.optimizers.Adam(config.learning_rate),
                          loss=ft.loss_for(clustered, y, tf_keras))
        clustered.fit(ft.as_model_input(clustered, x), y, batch_size=config.batch_size, epochs=config.epochs,
                      verbose=0, callbacks=[ft.progress_callback(tf_keras, ctx, config.epochs, 0.15, 0.75,
                                                                 "fine-tuning clusters")])
    stripped = clustering.strip_clustering(clustered)
    out, sizes = ft.save_compressed(stripped, ctx.scratch, parent_gzip)
    unique = {name: int(np.unique(k).size) for name, k in ft.kernels(stripped).items()}
    ctx.progress(1.0, "clustered")
    return PassResult(Artifact(out, "keras"), {
        "unique_weights_per_layer": unique, "max_unique_weights": max(unique.values(), default=0), **sizes,
        **ft.unwrapped_metrics(dense, "cluster", "unclustered")})


PASS = PassSpec(
    name="cluster",
    summary="Share weights: cluster each kernel into a few values and fine-tune (tensorflow-model-optimization).",
    accepts=("keras",),
    produces="keras",
    config=Config,
    run=run,
    kind="compression",
    needs="labels",
)
