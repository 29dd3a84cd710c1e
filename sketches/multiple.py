"""Multiple-testing correction over a batch of `CompareResult`.

Testing hundreds of features (× shards) at level α each flags about α of
them by chance every window. `correct` turns the batch's p-values into one
decision per test:

* ``"bh"`` (default), Benjamini–Hochberg step-up: sort the m p-values,
  find the largest i with p_(i) <= i α / m, flag the i smallest. Controls the
  false discovery rate at α for independent or positively dependent tests
  (Benjamini & Hochberg, JRSS-B 1995; Benjamini & Yekutieli, Ann. Stat.
  2001). When no feature drifted, every flag is a false discovery, so the
  chance that a no-drift window flags anything (family-wise error) is also
  at most α.
* ``"bonferroni"``: flag p <= α / m. Controls the family-wise error rate at
  α under any dependence.

Results with NaN statistics (an empty side) have p-value 1 and never pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sketches.compare import CompareResult
from sketches.errors import SketchError

METHODS = ("bh", "bonferroni")


def correct(
    results: Sequence[CompareResult], alpha: float = 0.05, method: str = "bh"
) -> list[bool]:
    """Return, per result and in order, whether it stays drifted.

    Args:
        results: one `CompareResult` per feature (or feature × shard).
        alpha: target false discovery rate (``"bh"``) or family-wise error
            rate (``"bonferroni"``) for the whole batch.
        method: ``"bh"`` or ``"bonferroni"``.

    Returns:
        A list of booleans, as long as ``results``; empty for no results.

    Raises:
        SketchError: if ``method`` is unknown or ``alpha`` is outside (0, 1).

    Example:
        >>> import numpy as np
        >>> from sketches import compare
        >>> rng = np.random.default_rng(3)
        >>> batch = [compare(rng.normal(size=2000), rng.normal(size=2000))
        ...          for _ in range(20)]
        >>> batch.append(compare(rng.normal(size=2000), rng.normal(0.5, size=2000)))
        >>> correct(batch)[-1], sum(correct(batch))
        (True, 1)
    """
    if method not in METHODS:
        raise SketchError(f"method must be one of {METHODS}, got {method!r}")
    if not 0.0 < alpha < 1.0:
        raise SketchError(f"alpha must be in (0, 1), got {alpha!r}")
    m = len(results)
    if m == 0:
        return []
    p_values = np.array([r.p_value for r in results], dtype=np.float64)
    p_values = np.where(np.isnan(p_values), 1.0, p_values)
    if method == "bonferroni":
        return [bool(p <= alpha / m) for p in p_values]
    order = np.argsort(p_values, kind="stable")
    thresholds = alpha * np.arange(1, m + 1) / m
    passing = np.nonzero(p_values[order] <= thresholds)[0]
    flags = np.zeros(m, dtype=bool)
    if passing.size:
        flags[order[: passing[-1] + 1]] = True
    return flags.tolist()
