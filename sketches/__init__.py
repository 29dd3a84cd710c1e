"""Mergeable window sketches and drift statistics with stated error bounds.

Pure Python + numpy + numba over Apache DataSketches: no Flink, no Kafka, no
I/O. Public API:

* `NumericSketch` — KLL quantiles; rank error ε(k), 99% confidence.
* `CategoricalSketch` — frequencies, exact up to a cardinality cap.
* `compare` → `CompareResult` — KS, PSI, JS, Wasserstein-1 (numeric);
  chi-square, PSI, JS (categorical); the critical value adds the sampling
  threshold and the sketches' own error bound.
* `correct` — Benjamini–Hochberg or Bonferroni over a batch.
* `warm_up` — compile the numba kernels (call in a UDF's ``open()``).

Example:
    >>> import numpy as np
    >>> from sketches import NumericSketch, compare
    >>> rng = np.random.default_rng(0)
    >>> baseline, candidate = NumericSketch(), NumericSketch()
    >>> baseline.update(rng.normal(size=100_000))
    >>> candidate.update(rng.normal(0.1, size=100_000))
    >>> result = compare(baseline, candidate, "ks")
    >>> result.drifted, result.sketch_error > 0
    (True, True)
"""

from sketches.categorical import CategoricalSketch
from sketches.compare import CompareResult, compare
from sketches.errors import SketchError
from sketches.kernels import warm_up
from sketches.multiple import correct
from sketches.numeric import DEFAULT_K, NumericSketch

__all__ = [
    "DEFAULT_K",
    "CategoricalSketch",
    "CompareResult",
    "NumericSketch",
    "SketchError",
    "compare",
    "correct",
    "warm_up",
]
