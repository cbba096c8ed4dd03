"""Try it reads class scores as evaluation does: (1, classes), or with trailing axes of 1 (SqueezeNet)."""
from __future__ import annotations

import numpy as np

from engine.serving.client import _class_scores


def test_class_scores_from_plain_and_pooled_classifier_outputs():
    plain = np.arange(10, dtype=np.float32)[None]
    pooled = np.arange(1000, dtype=np.float32).reshape(1, 1000, 1, 1)  # SqueezeNet's final global pool
    assert _class_scores(plain).tolist() == list(range(10))
    assert _class_scores(pooled).shape == (1000,) and int(np.argmax(_class_scores(pooled))) == 999


def test_no_class_scores_for_maps_batches_or_scalars():
    assert _class_scores(np.zeros((1, 8, 8, 3), np.float32)) is None  # a feature map, not classes
    assert _class_scores(np.zeros((2, 10), np.float32)) is None  # two inputs
    assert _class_scores(np.zeros((1, 1), np.float32)) is None  # one score
    assert _class_scores(np.zeros((10,), np.float32)) is None
