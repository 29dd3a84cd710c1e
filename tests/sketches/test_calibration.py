"""False-positive rate under no shift, BH over 25 features, and power.

Tolerances come from the binomial: with N seeded trials at true rate α, the
observed rate stays below the binomial 99.9% quantile / N.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from sketches import CategoricalSketch, NumericSketch, compare, correct

ALPHA = 0.05
TRIALS = 1000


def _ceiling(trials: int, rate: float) -> float:
    return scipy.stats.binom.ppf(0.999, trials, rate) / trials


@pytest.fixture(scope="module")
def no_shift_pairs() -> np.ndarray:
    return np.random.default_rng(77).normal(size=(TRIALS, 2, 300))


@pytest.mark.parametrize("method", ["ks", "psi", "js", "wasserstein"])
def test_raw_false_positive_rate_is_at_most_alpha(no_shift_pairs, method) -> None:
    flags = [compare(ref, cur, method).drifted for ref, cur in no_shift_pairs]
    assert np.mean(flags) <= _ceiling(TRIALS, ALPHA)


@pytest.mark.parametrize("method", ["ks", "psi"])
def test_sketch_false_positive_rate_is_at_most_alpha(method) -> None:
    rng = np.random.default_rng(78)
    flags = []
    for _ in range(TRIALS):
        ref, cur = NumericSketch(100), NumericSketch(100)
        ref.update(rng.normal(size=2000))
        cur.update(rng.normal(size=2000))
        flags.append(compare(ref, cur, method).drifted)
    assert np.mean(flags) <= _ceiling(TRIALS, ALPHA)


@pytest.mark.parametrize("method", ["chi2", "psi", "js"])
def test_categorical_false_positive_rate_is_at_most_alpha(method) -> None:
    rng = np.random.default_rng(79)
    levels = np.array(list("abcdef"))
    probabilities = [0.4, 0.2, 0.15, 0.1, 0.1, 0.05]
    draws = rng.choice(6, size=(TRIALS, 2, 400), p=probabilities)
    flags = []
    for ref_codes, cur_codes in draws:
        ref, cur = CategoricalSketch(), CategoricalSketch()
        ref.update(levels[ref_codes])
        cur.update(levels[cur_codes])
        flags.append(compare(ref, cur, method).drifted)
    assert np.mean(flags) <= _ceiling(TRIALS, ALPHA)


def test_bh_over_25_features_keeps_family_wise_rate_at_most_alpha() -> None:
    """With no feature drifted, BH's FDR equals the family-wise rate: ≤ α."""
    families = 400
    data = np.random.default_rng(80).normal(size=(families, 25, 2, 200))
    any_flag = [
        any(correct([compare(ref, cur, "ks") for ref, cur in family], alpha=ALPHA))
        for family in data
    ]
    assert np.mean(any_flag) <= _ceiling(families, ALPHA)


def test_a_quarter_sigma_shift_on_2000_samples_is_detected_95_percent() -> None:
    rng = np.random.default_rng(81)
    raw_hits, sketch_hits = [], []
    for _ in range(200):
        ref, cur = rng.normal(size=2000), rng.normal(0.25, size=2000)
        raw_hits.append(compare(ref, cur, "ks").drifted)
        ref_sketch, cur_sketch = NumericSketch(), NumericSketch()
        ref_sketch.update(ref)
        cur_sketch.update(cur)
        sketch_hits.append(compare(ref_sketch, cur_sketch, "ks").drifted)
    assert np.mean(raw_hits) >= 0.95
    assert np.mean(sketch_hits) >= 0.95


@pytest.mark.parametrize(("shift_sigma", "use_sketch"), [(0.025, False), (0.06, True)])
def test_smallest_shift_detected_at_1e5_samples(shift_sigma, use_sketch) -> None:
    """At 1e5 per side, KS flags 0.025σ on raw arrays and 0.06σ on default-k
    sketches in at least 19 of 20 seeded repeats."""
    rng = np.random.default_rng(82)
    hits = 0
    for _ in range(20):
        ref, cur = rng.normal(size=100_000), rng.normal(shift_sigma, size=100_000)
        if use_sketch:
            ref_sketch, cur_sketch = NumericSketch(), NumericSketch()
            ref_sketch.update(ref)
            cur_sketch.update(cur)
            ref, cur = ref_sketch, cur_sketch
        hits += compare(ref, cur, "ks").drifted
    assert hits >= 19


def test_large_windows_do_not_flag_sketch_noise() -> None:
    rng = np.random.default_rng(83)
    for method in ("ks", "psi", "js", "wasserstein"):
        ref, cur = NumericSketch(200), NumericSketch(200)
        ref.update(rng.normal(size=1_000_000))
        cur.update(rng.normal(size=1_000_000))
        assert not compare(ref, cur, method).drifted
