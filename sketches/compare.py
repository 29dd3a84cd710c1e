"""`compare`: one drift test between a reference and a current distribution.

Inputs are two `NumericSketch`, two `CategoricalSketch`, or two raw arrays
(numeric arrays for numeric methods; strings/objects, or method ``"chi2"``,
for categories). Every method returns a `CompareResult` whose
``critical_value`` is the sum of two parts:

1. the sampling part, the level-``alpha`` threshold of the statistic between
   two independent samples of sizes n_r and n_c from one distribution;
2. ``sketch_error``, a bound on |statistic from sketches − statistic from the
   exact samples| (0 for raw arrays and exact sketches). It holds whenever
   each sketch meets its own bound (KLL: 99% each; frequent items: always).

So ``drifted`` means "the statistic exceeds what sampling noise plus the
sketches' own error can produce", and a big window never flags sketch noise.
``p_value`` is the sampling tail probability of ``statistic - sketch_error``;
``drifted`` is equivalent to ``p_value < alpha``, which `correct` relies on.

Numeric methods (m = n_r n_c / (n_r + n_c), ε the sketches' rank errors):
    ``"ks"``  D = sup|F - G|. Sampling part sqrt(ln(2/α) / 2) / sqrt(m)
        (asymptotic Kolmogorov, first term of the series, conservative;
        Smirnov 1948). Sketch error ε_r + ε_c (each CDF is off by at most ε).
    ``"wasserstein"``  W1 = ∫|F - G| dx divided by the reference's IQR (its
        range if the IQR is 0, else 1). Sampling part
        (sqrt(2/π) ∫sqrt(F(1-F)) dx + σ sqrt(2 ln(1/α))) / (sqrt(m) IQR): the
        mean of the limiting ∫|B(F(x))| dx plus the Borell–TIS deviation with
        weak variance ≤ σ² (del Barrio, Giné, Matrán, Ann. Probab. 1999).
        Sketch error (ε_r range_r + ε_c range_c) / IQR.
    ``"psi"``  bins cut at the reference's quantiles (``bins``, default 10),
        each count smoothed by +0.5 (Jeffreys). Sampling part
        (1/n_r + 1/n_c) χ²_{B-1}(1-α) (Yurdakul, "Statistical properties of
        the population stability index", 2018).
    ``"js"``  Jensen–Shannon divergence in bits over the same bins and
        smoothing; sampling part (1/n_r + 1/n_c) χ²_{B-1}(1-α) / (8 ln 2),
        from JS ≈ Σ(p-q)²/(8 p) near the null.
    Binned sketch error: `kernels.box_deviation` with each bin's mass known
    within ε_pmf (the KLL double-sided bound).
Categorical methods, over the union of seen categories plus "other":
    ``"chi2"`` Pearson's chi-square of homogeneity, critical χ²_{K-1}(1-α);
    ``"psi"`` and ``"js"`` as above with categories as bins. Sketch error:
    `kernels.box_deviation` with each count in its frequent-items bounds.

An empty side gives ``statistic = nan``, ``p_value = 1`` and
``drifted = False`` rather than an exception.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sketches import kernels
from sketches._values import as_float_array, split_finite
from sketches.categorical import CategoricalSketch, CategoryTable
from sketches.errors import SketchError
from sketches.numeric import NumericSketch

NUMERIC_METHODS = ("ks", "psi", "js", "wasserstein")
CATEGORICAL_METHODS = ("chi2", "psi", "js")
DEFAULT_BINS = 10
_SMOOTHING = 0.5
_BINNED = {"psi": kernels.PSI, "js": kernels.JS, "chi2": kernels.CHI2}


@dataclass(frozen=True, slots=True)
class CompareResult:
    """Outcome of one drift test; see the module docstring for the formulas."""

    method: str
    statistic: float
    critical_value: float
    p_value: float
    drifted: bool
    n_reference: int
    n_current: int
    sketch_error: float
    alpha: float


@dataclass(frozen=True, slots=True)
class _Numeric:
    values: np.ndarray
    cum: np.ndarray
    n: int
    rank_error: float
    pmf_error: float


def compare(
    reference: Any,
    current: Any,
    method: str = "ks",
    *,
    alpha: float = 0.05,
    bins: int = DEFAULT_BINS,
) -> CompareResult:
    """Test whether ``current`` drifted from ``reference``.

    Args:
        reference: baseline or reference-profile sketch, or raw array.
        current: candidate sketch or raw array of the same kind.
        method: ``"ks"``, ``"psi"``, ``"js"``, ``"wasserstein"`` (numeric) or
            ``"chi2"``, ``"psi"``, ``"js"`` (categorical).
        alpha: false-positive level of ``drifted`` for this one test.
        bins: number of reference-quantile bins for numeric PSI and JS.

    Returns:
        A `CompareResult`.

    Raises:
        SketchError: for an unknown method, mixed input kinds, ``alpha``
            outside (0, 1) or ``bins`` < 2.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(7)
        >>> same = compare(rng.normal(size=5000), rng.normal(size=5000), "ks")
        >>> same.drifted, round(same.critical_value, 4)
        (False, 0.0272)
        >>> moved = compare(rng.normal(size=5000), rng.normal(0.3, size=5000))
        >>> moved.drifted
        True
    """
    if not 0.0 < alpha < 1.0:
        raise SketchError(f"alpha must be in (0, 1), got {alpha!r}")
    if bins < 2:
        raise SketchError(f"bins must be at least 2, got {bins!r}")
    if _is_categorical(reference, current, method):
        if method not in CATEGORICAL_METHODS:
            raise SketchError(
                f"method {method!r} is not one of {CATEGORICAL_METHODS} "
                "for categorical inputs"
            )
        ref_table, n_r = _category_table(reference)
        cur_table, n_c = _category_table(current)
        return _compare_categories(ref_table, n_r, cur_table, n_c, method, alpha)
    if method not in NUMERIC_METHODS:
        raise SketchError(f"method {method!r} is not one of {NUMERIC_METHODS}")
    if method == "ks" and not isinstance(reference, NumericSketch):
        return _compare_raw_ks(reference, current, alpha)
    ref, cur = _numeric(reference), _numeric(current)
    if ref.n == 0 or cur.n == 0:
        return _empty_result(method, ref.n, cur.n, alpha)
    if method == "ks":
        statistic = kernels.ks_weighted(ref.values, ref.cum, cur.values, cur.cum)
        return _ks_result(
            statistic, ref.n, cur.n, ref.rank_error + cur.rank_error, alpha
        )
    if method == "wasserstein":
        return _compare_wasserstein(ref, cur, alpha)
    p, q = kernels.bin_masses(ref.values, ref.cum, cur.values, cur.cum, bins)
    return _binned_result(
        method, p, q, ref.n, cur.n, ref.pmf_error, cur.pmf_error, alpha, _SMOOTHING
    )


@functools.lru_cache(maxsize=4096)
def chi2_quantile(df: int, level: float) -> float:
    """The ``level`` quantile of χ²_df, by bisection on `kernels.chi2_sf`.

    >>> round(chi2_quantile(9, 0.95), 3)
    16.919
    """
    tail = 1.0 - level
    low, high = 0.0, max(10.0, df + 20.0 * math.sqrt(2.0 * df) + 50.0)
    for _ in range(200):
        mid = 0.5 * (low + high)
        if kernels.chi2_sf(float(df), mid) > tail:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * high:
            break
    return high


def _is_categorical(reference: Any, current: Any, method: str) -> bool:
    if isinstance(reference, NumericSketch) or isinstance(current, NumericSketch):
        if not (
            isinstance(reference, NumericSketch) and isinstance(current, NumericSketch)
        ):
            raise SketchError("compare needs two NumericSketch or two raw arrays")
        return False
    if isinstance(reference, CategoricalSketch) or isinstance(
        current, CategoricalSketch
    ):
        if not (
            isinstance(reference, CategoricalSketch)
            and isinstance(current, CategoricalSketch)
        ):
            raise SketchError("compare needs two CategoricalSketch or two raw arrays")
        return True
    if method == "chi2":
        return True
    kinds = {np.asarray(side).dtype.kind for side in (reference, current)}
    return not kinds <= set("biuf")


def _numeric(side: Any) -> _Numeric:
    if isinstance(side, NumericSketch):
        values, cum = side.sorted_view()
        return _Numeric(values, cum, side.n, side.rank_error, side.pmf_error)
    finite, _ = split_finite(as_float_array(side))
    values = np.sort(finite)
    cum = np.arange(1, values.size + 1, dtype=np.float64) / max(values.size, 1)
    return _Numeric(values, cum, int(values.size), 0.0, 0.0)


def _compare_raw_ks(reference: Any, current: Any, alpha: float) -> CompareResult:
    ref, _ = split_finite(as_float_array(reference))
    cur, _ = split_finite(as_float_array(current))
    if ref.size == 0 or cur.size == 0:
        return _empty_result("ks", ref.size, cur.size, alpha)
    statistic = kernels.ks_sorted(np.sort(ref), np.sort(cur))
    return _ks_result(statistic, ref.size, cur.size, 0.0, alpha)


def _ks_result(
    statistic: float, n_r: int, n_c: int, sketch_error: float, alpha: float
) -> CompareResult:
    scale = math.sqrt(n_r * n_c / (n_r + n_c))
    critical = math.sqrt(math.log(2.0 / alpha) / 2.0) / scale + sketch_error
    excess = max(statistic - sketch_error, 0.0) * scale
    p_value = min(1.0, 2.0 * math.exp(-2.0 * excess * excess))
    return CompareResult(
        "ks", statistic, critical, p_value, statistic > critical, n_r, n_c,
        sketch_error, alpha,
    )  # fmt: skip


def _compare_wasserstein(ref: _Numeric, cur: _Numeric, alpha: float) -> CompareResult:
    std, spread, iqr = kernels.reference_shape(ref.values, ref.cum)
    ref_range = float(ref.values[-1] - ref.values[0])
    cur_range = float(cur.values[-1] - cur.values[0])
    scale = iqr if iqr > 0.0 else (ref_range if ref_range > 0.0 else 1.0)
    raw = kernels.wasserstein_weighted(ref.values, ref.cum, cur.values, cur.cum)
    statistic = raw / scale
    sketch_error = (ref.rank_error * ref_range + cur.rank_error * cur_range) / scale
    root_m = math.sqrt(ref.n * cur.n / (ref.n + cur.n))
    mean_limit = math.sqrt(2.0 / math.pi) * spread
    sampling = (mean_limit + std * math.sqrt(2.0 * math.log(1.0 / alpha))) / root_m
    critical = sampling / scale + sketch_error
    excess = max(statistic - sketch_error, 0.0) * scale * root_m - mean_limit
    if excess <= 0.0:
        p_value = 1.0
    elif std > 0.0:
        p_value = math.exp(-excess * excess / (2.0 * std * std))
    else:
        p_value = 0.0
    return CompareResult(
        "wasserstein", statistic, critical, p_value, statistic > critical,
        ref.n, cur.n, sketch_error, alpha,
    )  # fmt: skip


def _binned_result(
    method: str,
    p: np.ndarray,
    q: np.ndarray,
    n_r: int,
    n_c: int,
    p_error: Any,
    q_error: Any,
    alpha: float,
    smoothing: float,
) -> CompareResult:
    """Statistic, sketch error and critical value of a binned method.

    ``p``/``q`` are proportions; ``p_error``/``q_error`` are either a
    half-width or ``(low, high)`` arrays of the proportions' intervals.
    """
    kind = _BINNED[method]
    if isinstance(p_error, tuple):
        p_low, p_high = p_error
        q_low, q_high = q_error
    else:
        p_low, p_high = np.maximum(p - p_error, 0.0), np.minimum(p + p_error, 1.0)
        q_low, q_high = np.maximum(q - q_error, 0.0), np.minimum(q + q_error, 1.0)
    if kind != kernels.CHI2:
        p, p_low, p_high = (_smooth(a, n_r, smoothing) for a in (p, p_low, p_high))
        q, q_low, q_high = (_smooth(a, n_c, smoothing) for a in (q, q_low, q_high))
    statistic = kernels.binned_statistic(kind, p, q, float(n_r), float(n_c))
    sketch_error = 0.0
    if np.any(p_low != p_high) or np.any(q_low != q_high):
        sketch_error = kernels.box_deviation(
            kind, p, q, p_low, p_high, q_low, q_high, float(n_r), float(n_c)
        )
    df = max(int(np.count_nonzero((p > 0.0) | (q > 0.0))) - 1, 1)
    if kind == kernels.CHI2:
        unit = 1.0
    else:
        unit = 1.0 / n_r + 1.0 / n_c
        unit = unit / (8.0 * math.log(2.0)) if kind == kernels.JS else unit
    critical = unit * chi2_quantile(df, 1.0 - alpha) + sketch_error
    excess = max(statistic - sketch_error, 0.0) / unit
    p_value = float(kernels.chi2_sf(float(df), excess))
    return CompareResult(
        method, statistic, critical, p_value, statistic > critical, n_r, n_c,
        sketch_error, alpha,
    )  # fmt: skip


def _smooth(proportions: np.ndarray, n: int, smoothing: float) -> np.ndarray:
    return (proportions * n + smoothing) / (n + smoothing * proportions.size)


def _category_table(side: Any) -> tuple[CategoryTable, int]:
    if isinstance(side, CategoricalSketch):
        return side.table(), side.n
    sketch = CategoricalSketch(lg_max_map_size=26)
    sketch.update(side)
    return sketch.table(), sketch.n


def _compare_categories(
    ref: CategoryTable,
    n_r: int,
    cur: CategoryTable,
    n_c: int,
    method: str,
    alpha: float,
) -> CompareResult:
    if n_r == 0 or n_c == 0:
        return _empty_result(method, n_r, n_c, alpha)
    items = sorted(ref.keys() | cur.keys())
    absent = (0, 0, 0)
    ref_rows = np.array([ref.get(item, absent) for item in items] + [(0, 0, 0)], float)
    cur_rows = np.array([cur.get(item, absent) for item in items] + [(0, 0, 0)], float)
    for rows, n in ((ref_rows, n_r), (cur_rows, n_c)):
        rows[-1] = (
            max(n - rows[:-1, 0].sum(), 0.0),
            max(n - rows[:-1, 2].sum(), 0.0),
            max(n - rows[:-1, 1].sum(), 0.0),
        )
        rows /= n
    p, q = ref_rows[:, 0], cur_rows[:, 0]
    bounds_p = (np.minimum(ref_rows[:, 1], p), np.maximum(ref_rows[:, 2], p))
    bounds_q = (np.minimum(cur_rows[:, 1], q), np.maximum(cur_rows[:, 2], q))
    keep = (ref_rows[:, 2] > 0.0) | (cur_rows[:, 2] > 0.0)
    return _binned_result(
        method,
        p[keep],
        q[keep],
        n_r,
        n_c,
        (bounds_p[0][keep], bounds_p[1][keep]),
        (bounds_q[0][keep], bounds_q[1][keep]),
        alpha,
        _SMOOTHING,
    )


def _empty_result(method: str, n_r: int, n_c: int, alpha: float) -> CompareResult:
    nan = float("nan")
    return CompareResult(method, nan, nan, 1.0, False, int(n_r), int(n_c), 0.0, alpha)
