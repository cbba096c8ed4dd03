"""A seeded synthetic calibration set for latency-only searches without data. It is labelled synthetic
everywhere it appears: calibrating on it says nothing about accuracy, and no accuracy is claimed."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.formats.datasets import DatasetArrays

SEED = 1234


# Few rows: calibrating on them only sets the scales, which do not change a candidate's speed, and no
# accuracy is claimed; each row of a 224×224 network costs calibration time and memory on every candidate.
ROWS = 16


def synthetic_calibration(inputs: list[dict[str, Any]], n: int = ROWS, seed: int = SEED) -> tuple[DatasetArrays, str]:
    """(``n`` rows generated from the model's signature, the content id that derivations record)."""
    from engine.fidelity import sample_feeds

    feeds = sample_feeds(inputs, n=n, seed=seed)
    x = next(iter(feeds.values())) if len(feeds) == 1 else feeds
    return DatasetArrays(x), f"synthetic:seed={seed}:n={n}"
