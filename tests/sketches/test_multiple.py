"""correct(): Benjamini–Hochberg and Bonferroni decisions, and kernels that
compile once per process."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from sketches import (
    CompareResult,
    NumericSketch,
    SketchError,
    compare,
    correct,
    kernels,
)


def _result(p_value: float) -> CompareResult:
    return CompareResult("ks", 0.0, 0.0, p_value, p_value < 0.05, 10, 10, 0.0, 0.05)


def test_bh_matches_scipy_adjusted_p_values() -> None:
    p_values = np.random.default_rng(1).uniform(0, 0.08, size=40)
    flags = correct([_result(p) for p in p_values], alpha=0.05, method="bh")
    adjusted = scipy.stats.false_discovery_control(p_values, method="bh")
    assert flags == (adjusted <= 0.05).tolist()


def test_bonferroni_divides_alpha_by_the_batch_size() -> None:
    flags = correct([_result(p) for p in (0.001, 0.02, 0.2)], method="bonferroni")
    assert flags == [True, False, False]


def test_empty_batch_and_nan_p_values_are_handled() -> None:
    assert correct([]) == []
    assert correct([_result(float("nan")), _result(0.0)]) == [False, True]


def test_unknown_correction_raises() -> None:
    with pytest.raises(SketchError):
        correct([_result(0.1)], method="holm")


def test_empty_side_gives_nan_and_no_drift() -> None:
    result = compare(NumericSketch(), NumericSketch(), "ks")
    assert np.isnan(result.statistic) and not result.drifted and result.p_value == 1.0


def test_drifted_agrees_with_p_value_below_alpha() -> None:
    rng = np.random.default_rng(2)
    for method in ("ks", "psi", "js", "wasserstein"):
        for shift in (0.0, 0.05, 0.1, 0.3):
            result = compare(
                rng.normal(size=3000), rng.normal(shift, size=3000), method
            )
            assert result.drifted == (result.p_value < result.alpha)


def test_kernels_compile_once_whatever_the_sizes() -> None:
    kernels.warm_up()
    rng = np.random.default_rng(3)
    for n in (5, 500, 50_000):
        ref, cur = NumericSketch(), NumericSketch()
        ref.update(rng.normal(size=n))
        cur.update(rng.normal(size=n))
        for method in ("ks", "psi", "js", "wasserstein"):
            compare(ref, cur, method)
            compare(rng.normal(size=n), rng.normal(size=n), method)
    compiled = [kernels.ks_sorted, kernels.ks_weighted, kernels.wasserstein_weighted,
                kernels.reference_shape, kernels.bin_masses, kernels.binned_statistic,
                kernels.box_deviation, kernels.chi2_sf]  # fmt: skip
    assert all(len(kernel.signatures) == 1 for kernel in compiled)
