"""Summary statistics for latency samples, with distribution-free confidence intervals.

Latency distributions are skewed and multi-modal (a cache miss, a preempted thread), so nothing here
assumes normality: the median's interval comes from order statistics and the binomial distribution,
and ratios of medians get a bootstrap interval.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np


@lru_cache(maxsize=4096)
def _ranks(n: int, confidence: float) -> tuple[int, int]:
    """1-based ranks (l, u) with P(l <= #samples below the median < u) >= confidence, B ~ Binomial(n, 1/2)."""
    from scipy.stats import binom

    alpha = 1.0 - confidence
    lo = max(int(binom.ppf(alpha / 2, n, 0.5)), 1)
    while lo > 1 and binom.cdf(lo - 1, n, 0.5) > alpha / 2:
        lo -= 1
    return lo, n - lo + 1


def median_ci(samples: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The order-statistic interval [x_(l), x_(u)] that covers the population median with at least
    ``confidence`` — distribution-free, from the binomial. With fewer than 6 samples no such interval
    exists at 95%, and the full range is returned. O(n): the two order statistics come from a partition."""
    x = np.asarray(samples, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("no samples")
    if n < 6:
        return float(x.min()), float(x.max())
    lo, hi = _ranks(n, confidence)
    part = np.partition(x, [lo - 1, hi - 1])
    return float(part[lo - 1]), float(part[hi - 1])


def rel_half_width(samples: Sequence[float]) -> float:
    """Half the median CI's width as a fraction of the median (the early-stopping criterion)."""
    lo, hi = median_ci(samples)
    med = float(np.median(samples))
    return (hi - lo) / 2.0 / med if med > 0 else math.inf


def summarize(samples_ms: Sequence[float]) -> dict:
    """``p50, p90, p99, mean, std, ci95_p50`` of latency samples in milliseconds."""
    x = np.asarray(samples_ms, dtype=float)
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    lo, hi = median_ci(x)
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(x.mean()),
            "std": float(x.std(ddof=1)) if len(x) > 1 else 0.0, "ci95_p50": [lo, hi]}


def ratio_ci(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, confidence: float = 0.95,
             seed: int = 0) -> tuple[float, float, float]:
    """median(b)/median(a) and a percentile-bootstrap interval for it.

    Samples of equal length are taken as pairs timed side by side, in time order, and resampled in moving
    blocks of about sqrt(n) consecutive pairs: a neighbour's burst or a slow spell lasts many runs, so runs
    next to each other are not independent, and resampling single pairs made the interval too narrow (a
    model timed against itself by ``compare`` for a second came out "different" in 2 of 16 runs on a 2-core
    VM; in blocks, in 0 of 16).
    Samples of different lengths are resampled independently."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    point = float(np.median(xb) / np.median(xa))
    if len(xa) == len(xb):
        idx = _block_indices(len(xa), n_boot, rng)
        ra = np.median(xa[idx], axis=1)
        rb = np.median(xb[idx], axis=1)
    else:
        ra = np.median(xa[rng.integers(0, len(xa), size=(n_boot, len(xa)))], axis=1)
        rb = np.median(xb[rng.integers(0, len(xb), size=(n_boot, len(xb)))], axis=1)
    ratios = rb / ra
    tail = (1.0 - confidence) / 2 * 100
    lo, hi = np.percentile(ratios, [tail, 100 - tail])
    return point, float(lo), float(hi)


def _block_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` rows of ``n`` indices, each row made of runs of about sqrt(n) consecutive indices starting
    at random places (a moving-block bootstrap)."""
    length = max(1, round(math.sqrt(n)))
    blocks = -(-n // length)
    starts = rng.integers(0, n - length + 1, size=(n_boot, blocks))
    return (starts[:, :, None] + np.arange(length)).reshape(n_boot, -1)[:, :n]
