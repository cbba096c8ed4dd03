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


def test_try_it_json_that_is_not_an_array_of_numbers_gets_one_sentence():
    import pytest

    from engine.errors import InputError
    from engine.serving.inputs import from_json

    assert from_json("[[1, 2], [3, 4]]").shape == (2, 2)
    for text, reason in (("[1, 2", "Expecting ',' delimiter"), ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
                         ('["a"]', "could not convert string to float")):
        with pytest.raises(InputError, match=r"^the input is not a JSON array of numbers \(") as refused:
            from_json(text)
        assert reason in str(refused.value)
