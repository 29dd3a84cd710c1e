"""Statistics against exact scipy.stats on seeded data: raw arrays match
exactly, sketches stay within their stated ``sketch_error``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from scipy.spatial.distance import jensenshannon

from sketches import CategoricalSketch, NumericSketch, compare
from sketches.compare import chi2_quantile

SIZES = [1_000, 10_000, 100_000, 1_000_000]


@pytest.fixture(scope="module")
def samples() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2024)
    return {n: (rng.normal(size=n), rng.normal(0.05, 1.1, size=n)) for n in SIZES}


def _sketch(values: np.ndarray, k: int) -> NumericSketch:
    sketch = NumericSketch(k)
    sketch.update(values)
    return sketch


def _psi_on_sketch_bins(ref_sketch, cur_sketch, ref, cur, bins=10) -> float:
    """Exact PSI of the raw samples over the bins the sketch comparison used."""
    values, cum = ref_sketch.sorted_view()
    index = np.searchsorted(cum, np.arange(1, bins) / bins)
    edges = np.unique(values[np.minimum(index, values.size - 1)])
    p = np.diff(
        np.searchsorted(np.sort(ref), edges, side="right"), prepend=0, append=ref.size
    )
    q = np.diff(
        np.searchsorted(np.sort(cur), edges, side="right"), prepend=0, append=cur.size
    )
    p = (p + 0.5) / (ref.size + 0.5 * p.size)
    q = (q + 0.5) / (cur.size + 0.5 * q.size)
    return float(np.sum((q - p) * np.log(q / p)))


@pytest.mark.parametrize("n", SIZES)
def test_raw_ks_equals_scipy(samples, n: int) -> None:
    ref, cur = samples[n]
    exact = scipy.stats.ks_2samp(ref, cur).statistic
    assert compare(ref, cur, "ks").statistic == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("k", [200, 400, 800])
@pytest.mark.parametrize("n", SIZES)
def test_sketch_ks_is_within_its_bound_of_exact_ks(samples, n: int, k: int) -> None:
    ref, cur = samples[n]
    exact = compare(ref, cur, "ks").statistic
    result = compare(_sketch(ref, k), _sketch(cur, k), "ks")
    assert abs(result.statistic - exact) <= result.sketch_error + 1e-12


@pytest.mark.parametrize("k", [200, 400, 800])
@pytest.mark.parametrize("n", SIZES)
def test_sketch_psi_is_within_its_bound_of_exact_psi(samples, n: int, k: int) -> None:
    ref, cur = samples[n]
    ref_sketch, cur_sketch = _sketch(ref, k), _sketch(cur, k)
    result = compare(ref_sketch, cur_sketch, "psi")
    exact = _psi_on_sketch_bins(ref_sketch, cur_sketch, ref, cur)
    assert abs(result.statistic - exact) <= result.sketch_error + 1e-12


@pytest.mark.parametrize("n", SIZES[:3])
def test_sketch_wasserstein_is_within_its_bound(samples, n: int) -> None:
    ref, cur = samples[n]
    exact = compare(ref, cur, "wasserstein")
    result = compare(_sketch(ref, 200), _sketch(cur, 200), "wasserstein")
    assert abs(result.statistic - exact.statistic) <= result.sketch_error + 1e-12


def test_raw_wasserstein_equals_scipy_over_the_iqr(samples) -> None:
    ref, cur = samples[10_000]
    iqr = np.subtract(*np.quantile(ref, [0.75, 0.25], method="inverted_cdf"))
    exact = scipy.stats.wasserstein_distance(ref, cur) / iqr
    assert compare(ref, cur, "wasserstein").statistic == pytest.approx(exact, rel=1e-9)


def test_raw_js_equals_scipy_on_the_same_bins(samples) -> None:
    ref, cur = samples[10_000]
    edges = np.quantile(ref, np.arange(1, 10) / 10, method="inverted_cdf")
    p = np.diff(
        np.searchsorted(np.sort(ref), edges, side="right"), prepend=0, append=ref.size
    )
    q = np.diff(
        np.searchsorted(np.sort(cur), edges, side="right"), prepend=0, append=cur.size
    )
    p = (p + 0.5) / (ref.size + 5.0)
    q = (q + 0.5) / (cur.size + 5.0)
    exact = jensenshannon(p, q, base=2) ** 2
    assert compare(ref, cur, "js").statistic == pytest.approx(exact, rel=1e-9)


def test_raw_chi2_equals_scipy_contingency() -> None:
    rng = np.random.default_rng(11)
    ref = rng.choice(list("abcde"), size=3000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    cur = rng.choice(list("abcde"), size=2000, p=[0.25, 0.3, 0.2, 0.15, 0.1])
    table = [[np.sum(side == c) for c in "abcde"] for side in (ref, cur)]
    expected = scipy.stats.chi2_contingency(table, correction=False)
    result = compare(ref, cur, "chi2")
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)


def test_categorical_sketch_past_its_cap_stays_within_its_bound() -> None:
    rng = np.random.default_rng(12)
    weights = 1.0 / np.arange(1, 2001) ** 1.2
    ref = rng.choice(2000, size=50_000, p=weights / weights.sum()).astype(str)
    cur = rng.choice(2000, size=50_000, p=weights / weights.sum()).astype(str)
    small_ref, small_cur = CategoricalSketch(6), CategoricalSketch(6)
    small_ref.update(ref)
    small_cur.update(cur)
    assert not small_ref.is_exact
    for method in ("chi2", "psi", "js"):
        exact = compare(ref, cur, method)
        sketched = compare(small_ref, small_cur, method)
        assert sketched.sketch_error > 0.0
        assert abs(sketched.statistic - exact.statistic) <= sketched.sketch_error * (
            1 + 1e-9
        )


@pytest.mark.parametrize("df", [1, 2, 5, 9, 30, 500])
@pytest.mark.parametrize("level", [0.95, 0.99, 0.999])
def test_chi2_quantile_matches_scipy(df: int, level: float) -> None:
    assert chi2_quantile(df, level) == pytest.approx(
        scipy.stats.chi2.ppf(level, df), rel=1e-8
    )
