"""Distribution-free intervals: they contain the median and cover at the stated rate."""
from __future__ import annotations

import numpy as np

from engine.measure.stats import median_ci, ratio_ci, summarize


def test_median_ci_contains_the_sample_median():
    rng = np.random.default_rng(0)
    for n in (6, 7, 20, 101, 1000):
        x = rng.lognormal(0, 0.5, size=n)
        lo, hi = median_ci(x)
        assert lo <= np.median(x) <= hi


def test_median_ci_uses_the_binomial_order_statistics():
    assert median_ci(list(range(20))) == (5.0, 14.0)  # ranks 6 and 15: coverage 95.9%
    assert median_ci(list(range(100))) == (39.0, 60.0)
    assert median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0)  # too few for 95%: the full range


def test_median_ci_covers_a_skewed_population_median_at_least_95_percent():
    rng = np.random.default_rng(1)
    hits = sum(lo <= np.log(2) <= hi for lo, hi in (median_ci(rng.exponential(size=25)) for _ in range(2000)))
    assert hits / 2000 >= 0.94


def test_summary_is_ordered_and_carries_the_ci():
    s = summarize(np.random.default_rng(2).gamma(2.0, size=500))
    assert s["p50"] <= s["p90"] <= s["p99"] and s["ci95_p50"][0] <= s["p50"] <= s["ci95_p50"][1] and s["std"] > 0


def test_ratio_ci_contains_the_true_ratio():
    rng = np.random.default_rng(3)
    a = 1.0 + 0.05 * rng.random(200)
    b = 2.0 * (1.0 + 0.05 * rng.random(200))
    ratio, lo, hi = ratio_ci(a, b)
    assert lo <= 2.0 <= hi and lo <= ratio <= hi



def test_ratio_ci_of_pairs_covers_one_when_slow_spells_last_many_runs():
    """Two equal models timed side by side on a machine whose slow spells last many runs (each model's own
    noise an AR(1) with phi 0.9, as a neighbour's bursts are) over a drift both share: the interval covers 1 in
    89 of these 100 seeded cases. Resampling single pairs, as before, covered it in 46."""
    def spells(rng: np.random.Generator, n: int, phi: float = 0.9) -> np.ndarray:
        e = np.empty(n)
        e[0] = rng.normal()
        for i in range(1, n):
            e[i] = phi * e[i - 1] + rng.normal() * np.sqrt(1 - phi ** 2)
        return e

    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        drift = 1.0 + 0.1 * np.sin(np.arange(400) / 40)  # shared by both: interleaving cancels it
        a = drift * np.exp(0.05 * spells(rng, 400))
        b = drift * np.exp(0.05 * spells(rng, 400))
        _, lo, hi = ratio_ci(a, b, n_boot=500)
        covered += lo <= 1.0 <= hi
    assert covered >= 85
