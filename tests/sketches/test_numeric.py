"""NumericSketch: quantiles within the KLL rank bound, merging, edge cases."""

from __future__ import annotations

import datasketches
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketches import NumericSketch, SketchError

RANKS = np.linspace(0.01, 0.99, 99)


def _true_ranks(sorted_values: np.ndarray, points: np.ndarray) -> tuple:
    """Normalized ranks of ``points``: fraction < point and fraction <= point."""
    n = sorted_values.size
    below = np.searchsorted(sorted_values, points, side="left") / n
    at_or_below = np.searchsorted(sorted_values, points, side="right") / n
    return below, at_or_below


@pytest.mark.parametrize("k", [200, 400, 800])
@pytest.mark.parametrize("n", [1_000, 10_000, 100_000, 1_000_000])
def test_quantiles_are_within_the_rank_bound(k: int, n: int) -> None:
    values = np.random.default_rng(n + k).lognormal(size=n)
    sketch = NumericSketch(k)
    sketch.update(values)
    below, at_or_below = _true_ranks(np.sort(values), sketch.quantiles(RANKS))
    epsilon = sketch.rank_error
    assert np.all(below <= RANKS + epsilon + 1e-12)
    assert np.all(at_or_below >= RANKS - epsilon - 1e-12)


def test_quantile_bounds_contain_the_true_quantile() -> None:
    values = np.random.default_rng(5).exponential(size=200_000)
    sketch = NumericSketch(200)
    sketch.update(values)
    lower, upper = sketch.quantile_bounds(RANKS)
    truth = np.quantile(values, RANKS)
    assert np.all(lower <= truth) and np.all(truth <= upper)
    assert np.all(lower < upper)


def test_exact_sketch_has_zero_error_and_collapsed_bounds() -> None:
    sketch = NumericSketch()
    sketch.update(np.arange(100.0))
    lower, upper = sketch.quantile_bounds([0.5, 0.99])
    assert sketch.rank_error == 0.0 and sketch.is_exact
    assert np.array_equal(lower, upper)
    assert np.array_equal(lower, sketch.quantiles([0.5, 0.99]))


def test_empty_sketch_answers_nan() -> None:
    sketch = NumericSketch()
    assert np.isnan(sketch.min) and np.isnan(sketch.max)
    assert np.isnan(sketch.quantiles([0.0, 0.5, 1.0])).all()
    lower, upper = sketch.quantile_bounds([0.5])
    assert np.isnan(lower).all() and np.isnan(upper).all()
    assert sketch.sorted_view()[0].size == 0


def test_constant_input_answers_the_constant() -> None:
    sketch = NumericSketch(200)
    sketch.update(np.full(50_000, 3.5))
    assert sketch.quantiles([0.0, 0.5, 1.0]).tolist() == [3.5, 3.5, 3.5]
    assert sketch.min == sketch.max == 3.5


def test_pandas_and_list_input_are_accepted() -> None:
    import pandas as pd

    sketch = NumericSketch()
    sketch.update(pd.Series([1.0, None, 2.0], dtype="Float64"))
    sketch.update([3.0, None, float("inf")])
    sketch.update(4)
    assert (sketch.n, sketch.n_invalid) == (4, 3)


def test_out_of_range_rank_raises() -> None:
    with pytest.raises(SketchError):
        NumericSketch().quantiles([1.5])
    with pytest.raises(SketchError):
        NumericSketch(k=2)


def test_merging_64_shards_matches_a_single_pass_within_the_bound() -> None:
    rng = np.random.default_rng(64)
    shards = [rng.gamma(2.0, size=int(rng.integers(1_000, 20_000))) for _ in range(64)]
    whole = NumericSketch()
    whole.update(np.concatenate(shards))
    parts = []
    for shard in shards:
        part = NumericSketch()
        part.update(shard)
        parts.append(part.to_bytes())
    fleet = NumericSketch.merge_all(parts)
    assert fleet.n == whole.n
    assert (fleet.min, fleet.max) == (whole.min, whole.max)
    truth = np.sort(np.concatenate(shards))
    below, at_or_below = _true_ranks(truth, fleet.quantiles(RANKS))
    assert np.all(below <= RANKS + fleet.rank_error)
    assert np.all(at_or_below >= RANKS - fleet.rank_error)


def test_merge_all_of_nothing_is_empty() -> None:
    assert NumericSketch.merge_all([]).n == 0


def test_sorted_view_matches_the_sketch_iterator() -> None:
    sketch = NumericSketch(64)
    sketch.update(np.random.default_rng(9).normal(size=30_000))
    values, cum = sketch.sorted_view()
    pairs = sorted(sketch._sketch)  # the library's own (item, weight) iteration
    assert np.array_equal(values, [item for item, _ in pairs])
    assert np.allclose(cum, np.cumsum([w for _, w in pairs]) / sketch.n)


def test_update_matches_raw_datasketches() -> None:
    values = np.random.default_rng(10).normal(size=5_000)
    ours, raw = NumericSketch(200), datasketches.kll_doubles_sketch(200)
    ours.update(values)
    raw.update(values)
    assert ours.n == raw.n
    assert ours.min == raw.get_min_value() and ours.max == raw.get_max_value()


small_arrays = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=60
).map(np.array)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(small_arrays, small_arrays, small_arrays)
def test_merge_is_associative_while_exact(a, b, c) -> None:
    def sketch_of(values: np.ndarray) -> NumericSketch:
        sketch = NumericSketch(200)
        sketch.update(values.astype(np.float64))
        return sketch

    left = sketch_of(a).merge(sketch_of(b)).merge(sketch_of(c))
    right = sketch_of(a).merge(sketch_of(b).merge(sketch_of(c)))
    assert left.n == right.n == a.size + b.size + c.size
    assert np.array_equal(left.sorted_view()[0], right.sorted_view()[0])


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.integers(300, 3_000))
def test_merge_order_stays_within_the_bound_in_estimation_mode(seed, size) -> None:
    rng = np.random.default_rng(seed)
    chunks = [rng.normal(size=size) for _ in range(3)]
    sketches = []
    for chunk in chunks:
        sketch = NumericSketch(32)
        sketch.update(chunk)
        sketches.append(sketch)
    left = NumericSketch(32).merge(sketches[0]).merge(sketches[1]).merge(sketches[2])
    right = NumericSketch(32).merge(sketches[2]).merge(sketches[1]).merge(sketches[0])
    truth = np.sort(np.concatenate(chunks))
    for merged in (left, right):
        below, at_or_below = _true_ranks(truth, merged.quantiles(RANKS))
        assert np.all(below <= RANKS + merged.rank_error)
        assert np.all(at_or_below >= RANKS - merged.rank_error)
