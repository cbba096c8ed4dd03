"""Knowledge distillation: train a smaller student to match the teacher's softened outputs.

The student is either the teacher's architecture with every hidden Conv/Dense width multiplied by
``width_factor`` (output layers unchanged, weights freshly initialised) or an uploaded model (``student``).
Loss: ``alpha`` × cross-entropy on labels (when the data set has them) + (1 − ``alpha``) × T² × KL between
teacher and student outputs softened by temperature T. Non-classifier outputs are matched by MSE.
"""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from engine.artifact import Artifact
from engine.errors import InputError, first_line
from engine.passes.base import PassConfig, PassContext, PassResult, PassSpec

_WIDTH_KEYS = {"Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters", "SeparableConv2D": "filters",
               "Conv2DTranspose": "filters", "Dense": "units"}


class Config(PassConfig):
    width_factor: float | None = Field(None, gt=0, le=1, description="Shrink the teacher's hidden Conv/Dense "
                                       "widths by this factor to make the student (0.5 when no student is given).")
    student: int | None = Field(None, description="Id of an uploaded model to use as the student instead.")
    temperature: float = Field(4.0, gt=0, le=100, description="Softening temperature of the distillation loss.")
    alpha: float = Field(0.5, ge=0, le=1, description="Weight of the label loss; 1 − alpha goes to matching "
                                                      "the teacher.")
    epochs: int = Field(60, ge=1, le=1000, description="Most training epochs over the data set (training stops "
                                                       "earlier once the validation loss stops improving).")
    batch_size: int = Field(32, ge=1, le=4096, description="Training batch size.")
    learning_rate: float = Field(3e-3, gt=0, le=1, description="Adam learning rate.")
    patience: int = Field(6, ge=1, le=100, description="Epochs without a better validation loss before stopping.")

    @model_validator(mode="after")
    def _one_student(self) -> "Config":
        if self.width_factor is not None and self.student is not None:
            raise ValueError("set either width_factor or student, not both")
        return self


def run(source: Artifact, config: Config, ctx: PassContext) -> PassResult:
    from engine.bridge import load_keras_any
    from engine.passes import finetune as ft

    if ctx.dataset is None:
        raise InputError("distillation needs a data set to train the student on; pass one with --dataset.")
    import tensorflow as tf

    x = ctx.dataset.x if not isinstance(ctx.dataset.x, dict) else dict(ctx.dataset.x)
    y = None if ctx.dataset.y is None else np.asarray(ctx.dataset.y)
    ctx.progress(0.05, "loading the teacher")
    teacher = load_keras_any(source.path)
    # the same pass, config and parent give the same student (lineage is by content): seed its initial
    # weights, the shuffling and any dropout before the student is built
    _keras_of(teacher).utils.set_random_seed(0)
    student = _student(teacher, config, ctx)
    if tuple(student.outputs[0].shape[1:]) != tuple(teacher.outputs[0].shape[1:]):
        raise InputError(f"the student's output shape {tuple(student.outputs[0].shape)} differs from the "
                         f"teacher's {tuple(teacher.outputs[0].shape)}; choose a student with the same outputs.")
    keras = _keras_of(student)
    xs = ft.as_model_input(teacher, x)
    soft_targets = np.asarray(teacher.predict(xs, batch_size=64, verbose=0), dtype=np.float32)
    started = time.perf_counter()
    trained = _train(tf, keras, student, ft.outputs_probabilities(teacher), ft.outputs_probabilities(student),
                     ft.as_model_input(student, x), soft_targets, y, config, ctx)
    wall = round(time.perf_counter() - started, 1)
    out = ctx.scratch / ("model.keras" if keras.__name__ == "keras" else "model.h5")
    student.save(str(out))
    metrics: dict[str, Any] = {"student_params": ft.params(student), "teacher_params": ft.params(teacher),
                               "student_bytes": out.stat().st_size, "teacher_bytes": _size(source.path),
                               "train_wall_s": wall, **trained}
    if y is not None:
        metrics["teacher_accuracy"] = ft.accuracy(teacher, x, y)
        metrics["student_accuracy"] = ft.accuracy(student, x, y)
    ctx.progress(1.0, "distilled")
    return PassResult(Artifact(out, "keras"), metrics)


def _student(teacher: Any, config: Config, ctx: PassContext) -> Any:
    from engine.bridge import load_keras_any

    if config.student is not None:
        if config.student not in ctx.models:
            raise InputError(f"model {config.student} chosen as the student was not found; upload it first.")
        return load_keras_any(ctx.models[config.student].path)
    factor = config.width_factor or 0.5
    model_config = shrink_config(teacher.get_config(), factor)
    keras = _keras_of(teacher)
    try:
        cls = keras.Sequential if type(teacher).__name__ == "Sequential" else keras.Model
        return cls.from_config(model_config)
    except Exception as exc:
        raise InputError(f"the teacher cannot be shrunk by width_factor {factor} (a layer depends on the "
                         f"original widths: {first_line(exc)}); upload a student model instead.") from exc


def shrink_config(config: dict[str, Any], factor: float) -> dict[str, Any]:
    """The model config with every hidden Conv/Dense width × ``factor`` (at least 1); outputs unchanged."""
    config = copy.deepcopy(config)
    layers = config.get("layers", [])
    outputs = config.get("output_layers")
    if outputs is None:  # Sequential: the last layer is the output
        keep = {layers[-1]["config"]["name"]} if layers else set()
    else:
        outputs = outputs if outputs and isinstance(outputs[0], list) else [outputs]
        keep = {o[0] for o in outputs}
    for layer in layers:
        layer.pop("build_config", None)  # built shapes hold the old widths; layers rebuild on their inputs
        key = _WIDTH_KEYS.get(layer.get("class_name"))
        name = layer.get("config", {}).get("name", layer.get("name"))
        if key and name not in keep:
            layer["config"][key] = max(1, int(round(layer["config"][key] * factor)))
    return config


def _train(tf: Any, keras: Any, student: Any, teacher_probs: bool, student_probs: bool, x: Any,
           targets: np.ndarray, y: np.ndarray | None, config: Config, ctx: PassContext) -> dict[str, Any]:
    """Compiled training of a distiller (its own ``train_step``): shuffled batches, Adam at the configured
    rate, early stopping on a held-back validation split with the best weights restored. An eager loop over
    the same loss reached 42.8% on digits in 5 epochs; compiled and stopped on validation it lands within a
    few points of the teacher."""
    classifier = targets.ndim == 2 and targets.shape[1] > 1
    t_logits = (np.log(np.clip(targets, 1e-7, 1.0)) if teacher_probs else targets).astype(np.float32)
    use_labels = y is not None and classifier and config.alpha > 0 and np.issubdtype(y.dtype, np.integer)
    labels = (y.reshape(-1).astype(np.int32) if use_labels else np.zeros(len(targets), np.int32))
    n = len(targets)
    order = np.random.default_rng(0).permutation(n)
    cut = n - max(1, n // 6) if n >= 12 else n
    train, val = order[:cut], order[cut:]

    def take(a: Any, idx: np.ndarray) -> Any:
        return [v[idx] for v in a] if isinstance(a, list) else a[idx]

    distiller = _distiller(tf, keras, student, classifier, student_probs, use_labels, config)
    distiller.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    progress = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ctx.progress(
        0.1 + 0.8 * (epoch + 1) / config.epochs,
        f"distilling: epoch {epoch + 1}/{config.epochs}, loss {(logs or {}).get('loss', 0):.4f}"))
    callbacks = [progress]
    validation = None
    if len(val):
        validation = (take(x, val), (t_logits[val], labels[val]))
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                                       restore_best_weights=True))
    history = distiller.fit(take(x, train), (t_logits[train], labels[train]), batch_size=config.batch_size,
                            epochs=config.epochs, shuffle=True, validation_data=validation, callbacks=callbacks,
                            verbose=0)
    return {"epochs_run": len(history.history.get("loss", []))}


def _distiller(tf: Any, keras: Any, student: Any, classifier: bool, student_probs: bool, use_labels: bool,
               config: Config) -> Any:
    T, alpha = config.temperature, config.alpha

    def loss_of(out: Any, t_logits: Any, labels: Any) -> Any:
        out = tf.cast(out, tf.float32)
        if not classifier:
            return tf.reduce_mean(tf.square(out - t_logits))
        s_logits = tf.math.log(tf.clip_by_value(out, 1e-7, 1.0)) if student_probs else out
        soft_t = tf.nn.softmax(t_logits / T)
        soft = (T * T) * tf.reduce_mean(tf.reduce_sum(
            soft_t * (tf.math.log(soft_t + 1e-9) - tf.nn.log_softmax(s_logits / T)), axis=-1))
        if not use_labels:
            return soft
        hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=s_logits))
        return alpha * hard + (1 - alpha) * soft

    class Distiller(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.student = student
            self.tracker = keras.metrics.Mean(name="loss")  # what fit reports (and early stopping reads)

        @property
        def metrics(self) -> list[Any]:
            return [self.tracker]

        def call(self, inputs: Any, training: bool = False) -> Any:
            return self.student(inputs, training=training)

        def train_step(self, data: Any) -> dict[str, Any]:
            x, (t_logits, labels) = data
            with tf.GradientTape() as tape:
                loss = loss_of(self.student(x, training=True), t_logits, labels)
            grads = tape.gradient(loss, self.student.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables))
            self.tracker.update_state(loss)
            return {"loss": self.tracker.result()}

        def test_step(self, data: Any) -> dict[str, Any]:
            x, (t_logits, labels) = data
            self.tracker.update_state(loss_of(self.student(x, training=False), t_logits, labels))
            return {"loss": self.tracker.result()}

    return Distiller()


def _keras_of(model: Any) -> Any:
    if type(model).__module__.startswith("tf_keras"):
        import tf_keras

        return tf_keras
    import keras

    return keras


def _size(path: Any) -> int:
    from pathlib import Path

    p = Path(path)
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size


PASS = PassSpec(
    name="distill",
    summary="Train a smaller student (a narrower copy of the teacher, or an uploaded model) to mimic the teacher.",
    accepts=("keras",),
    produces="keras",
    config=Config,
    run=run,
    kind="compression",
    needs="data",
)
