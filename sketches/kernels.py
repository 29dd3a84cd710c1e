"""Numba kernels behind every drift statistic, compiled once per process.

All kernels take float64 arrays. A distribution is passed as a *view*: values
sorted ascending and ``cum``, the normalized inclusive CDF after each value
(``cum[-1] == 1``). Raw samples give ``cum = (i + 1) / n``; sketches give
their retained items with weighted ranks (`NumericSketch.sorted_view`).

Formulas (F, G the reference and current CDFs; p, q bin proportions):
    KS            D = sup_x |F(x) - G(x)|
    Wasserstein-1 W = ∫ |F(x) - G(x)| dx          (before normalization)
    PSI           Σ (q_i - p_i) ln(q_i / p_i)
    Jensen–Shannon Σ [q_i log2(2q_i/(p_i+q_i)) + p_i log2(2p_i/(p_i+q_i))] / 2
    chi-square    n_r n_c Σ (p_i - q_i)² / (n_r p_i + n_c q_i)

`box_deviation` bounds how far a binned statistic can move when each
proportion is only known to lie in an interval (the sketch's error). Each of
the three statistics is a sum of per-bin terms f(p, q) that are convex, zero
on p = q, and whose partial derivatives vanish only on p = q. Hence over a
box the maximum of f is at a corner, and the minimum is 0 if the box meets
the diagonal and at a corner otherwise: the bound is exact for the box.

Compilation: ``cache=True`` stores machine code beside the module; `warm_up`
compiles (or loads) every kernel for the one signature used, so the first
real call never pays it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

PSI, JS, CHI2 = 0, 1, 2
_LN2 = math.log(2.0)


@njit(cache=True, nogil=True)
def ks_sorted(x: np.ndarray, y: np.ndarray) -> float:  # pragma: no cover - numba
    """Exact two-sample KS statistic of two ascending raw samples."""
    n_x, n_y = x.size, y.size
    i = j = 0
    d = 0.0
    while i < n_x and j < n_y:
        v = min(x[i], y[j])
        while i < n_x and x[i] <= v:
            i += 1
        while j < n_y and y[j] <= v:
            j += 1
        gap = abs(i / n_x - j / n_y)
        if gap > d:
            d = gap
    return d


@njit(cache=True, nogil=True)
def ks_weighted(
    xv: np.ndarray, xc: np.ndarray, yv: np.ndarray, yc: np.ndarray
) -> float:  # pragma: no cover - numba
    """KS statistic between two views (sup over the union of their values)."""
    i = j = 0
    d = 0.0
    while i < xv.size and j < yv.size:
        v = min(xv[i], yv[j])
        while i < xv.size and xv[i] <= v:
            i += 1
        while j < yv.size and yv[j] <= v:
            j += 1
        f = xc[i - 1] if i > 0 else 0.0
        g = yc[j - 1] if j > 0 else 0.0
        if abs(f - g) > d:
            d = abs(f - g)
    return d


@njit(cache=True, nogil=True)
def wasserstein_weighted(
    xv: np.ndarray, xc: np.ndarray, yv: np.ndarray, yc: np.ndarray
) -> float:  # pragma: no cover - numba
    """∫ |F - G| dx between two views' step CDFs (exact for the views)."""
    i = j = 0
    f = g = 0.0
    total = 0.0
    prev = 0.0
    started = False
    while i < xv.size or j < yv.size:
        if j >= yv.size or (i < xv.size and xv[i] <= yv[j]):
            v = xv[i]
        else:
            v = yv[j]
        if started:
            total += abs(f - g) * (v - prev)
        while i < xv.size and xv[i] <= v:
            f = xc[i]
            i += 1
        while j < yv.size and yv[j] <= v:
            g = yc[j]
            j += 1
        prev = v
        started = True
    return total


@njit(cache=True, nogil=True)
def reference_shape(
    xv: np.ndarray, xc: np.ndarray
) -> tuple[float, float, float]:  # pragma: no cover - numba
    """Return (std, ∫ sqrt(F (1 - F)) dx, interquartile range) of a view."""
    mean = 0.0
    prev_c = 0.0
    for i in range(xv.size):
        mean += (xc[i] - prev_c) * xv[i]
        prev_c = xc[i]
    var = 0.0
    spread = 0.0
    prev_c = 0.0
    q25 = q75 = xv[xv.size - 1]
    found25 = found75 = False
    for i in range(xv.size):
        var += (xc[i] - prev_c) * (xv[i] - mean) ** 2
        prev_c = xc[i]
        if i + 1 < xv.size:
            spread += math.sqrt(max(xc[i] * (1.0 - xc[i]), 0.0)) * (xv[i + 1] - xv[i])
        if not found25 and xc[i] >= 0.25:
            q25, found25 = xv[i], True
        if not found75 and xc[i] >= 0.75:
            q75, found75 = xv[i], True
    return math.sqrt(var), spread, q75 - q25


@njit(cache=True, nogil=True)
def bin_masses(
    rv: np.ndarray, rc: np.ndarray, cv: np.ndarray, cc: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Masses of both views in bins cut at the reference's b/bins quantiles.

    Bins are (e_{b-1}, e_b] with distinct edges; ties merge bins, so the
    result may have fewer than ``bins`` entries (at least one).
    """
    edges = np.empty(bins - 1)
    for b in range(1, bins):
        index = int(np.searchsorted(rc, b / bins))
        edges[b - 1] = rv[min(index, rv.size - 1)]
    edges = np.unique(edges)
    p = np.empty(edges.size + 1)
    q = np.empty(edges.size + 1)
    prev_p = prev_q = 0.0
    for b in range(edges.size):
        ip = np.searchsorted(rv, edges[b], side="right")
        iq = np.searchsorted(cv, edges[b], side="right")
        cp = rc[ip - 1] if ip > 0 else 0.0
        cq = cc[iq - 1] if iq > 0 else 0.0
        p[b], q[b] = cp - prev_p, cq - prev_q
        prev_p, prev_q = cp, cq
    p[edges.size], q[edges.size] = 1.0 - prev_p, 1.0 - prev_q
    return np.maximum(p, 0.0), np.maximum(q, 0.0)


@njit(cache=True, nogil=True)
def _term(kind: int, p: float, q: float, n_r: float, n_c: float) -> float:
    if kind == PSI:
        return (q - p) * math.log(q / p)
    if kind == JS:
        m = 0.5 * (p + q)
        t = 0.0
        if p > 0.0:
            t += p * math.log(p / m)
        if q > 0.0:
            t += q * math.log(q / m)
        return 0.5 * t / _LN2
    pooled = n_r * p + n_c * q
    if pooled <= 0.0:
        return 0.0
    return n_r * n_c * (p - q) ** 2 / pooled


@njit(cache=True, nogil=True)
def binned_statistic(
    kind: int, p: np.ndarray, q: np.ndarray, n_r: float, n_c: float
) -> float:  # pragma: no cover - numba
    """Sum of per-bin terms of PSI, JS (bits) or chi-square."""
    total = 0.0
    for i in range(p.size):
        total += _term(kind, p[i], q[i], n_r, n_c)
    return total


@njit(cache=True, nogil=True)
def box_deviation(
    kind: int,
    p: np.ndarray,
    q: np.ndarray,
    p_low: np.ndarray,
    p_high: np.ndarray,
    q_low: np.ndarray,
    q_high: np.ndarray,
    n_r: float,
    n_c: float,
) -> float:  # pragma: no cover - numba
    """Largest change of the statistic when each (p_i, q_i) moves in its box."""
    up = down = 0.0
    for i in range(p.size):
        f0 = _term(kind, p[i], q[i], n_r, n_c)
        hi = lo = f0
        for a in (p_low[i], p_high[i]):
            for b in (q_low[i], q_high[i]):
                f = _term(kind, a, b, n_r, n_c)
                hi = max(hi, f)
                lo = min(lo, f)
        if p_low[i] <= q_high[i] and q_low[i] <= p_high[i]:
            lo = 0.0
        up += hi - f0
        down += f0 - lo
    return max(up, down)


@njit(cache=True, nogil=True)
def chi2_sf(df: float, x: float) -> float:  # pragma: no cover - numba
    """Upper tail P(χ²_df > x): the regularized gamma Q(df/2, x/2).

    Series for x < a + 1, Lentz continued fraction otherwise (Numerical
    Recipes, 3rd ed., §6.2); relative accuracy ~1e-12.
    """
    if x <= 0.0:
        return 1.0
    a, z = 0.5 * df, 0.5 * x
    log_prefix = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1.0
            term *= z / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    b = z + 1.0 - a
    c = 1.0 / 1e-300
    d = 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


def warm_up() -> None:
    """Compile or load every kernel for its float64 signature.

    Call once per process (a Flink UDF's ``open()``); later calls are free.
    """
    x = np.array([0.0, 1.0, 2.0])
    c = np.array([1 / 3, 2 / 3, 1.0])
    ks_sorted(x, x)
    ks_weighted(x, c, x, c)
    wasserstein_weighted(x, c, x, c)
    reference_shape(x, c)
    p, q = bin_masses(x, c, x, c, 2)
    for kind in (PSI, JS, CHI2):
        binned_statistic(kind, p, q, 3.0, 3.0)
        box_deviation(kind, p, q, p, p, q, q, 3.0, 3.0)
    chi2_sf(2.0, 1.0)
