"""The demo model: a small residual CNN trained on scikit-learn's digits (8×8 images, 10 classes).

It ships with scikit-learn, so the demo works offline in about ten seconds on two cores. The same
builder gives the test suite its real, trained Keras 3 model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 7


def digits_arrays(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): NHWC float32 in [0, 1], int64 labels, a stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return x_train, y_train, x_test, y_test


def build_digits_cnn(width: int = 16):
    """A functional Keras 3 CNN with BatchNorm and a residual add (the shapes users' models have)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = layers.Conv2D(width, 3, padding="same", name="stem")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    shortcut = x
    x = layers.Conv2D(width, 3, padding="same", name="block_conv")(x)
    x = layers.BatchNormalization(name="block_bn")(x)
    x = layers.Add(name="residual")([x, shortcut])
    x = layers.ReLU(name="block_relu")(x)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="hidden")(x)
    outputs = layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def train_digits_cnn(model_path: Path, data_path: Path | None = None, epochs: int = 8,
                     train_path: Path | None = None) -> float:
    """Train the demo CNN, save it as ``.keras`` (the held-out test split as ``data_path``, the training split,
    for calibration and fine-tuning, as ``train_path``); return test accuracy."""
    import keras

    keras.utils.set_random_seed(SEED)
    x_train, y_train, x_test, y_test = digits_arrays()
    model = build_digits_cnn()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    if data_path is not None:
        np.savez(data_path, x=x_test, y=y_test)
    if train_path is not None:
        np.savez(train_path, x=x_train, y=y_train)
    return float(accuracy)
