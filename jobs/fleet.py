"""Fleet merge of per-shard latency windows, and the quantile intervals the
guard compares.

The stream job's hot path ends with one `ShardWindow` per (model, version,
shard) and window, carrying a serialized `NumericSketch` of request durations.
This module merges those into one `FleetWindow` per (model, version): a merge
of sketches, never of raw spans, so the fleet stage costs one row per shard.

Quantile intervals: a regression is only called when the candidate's interval
lies wholly above the baseline's. For the q-quantile of n values read from a
sketch with normalized rank error ε, the interval is

    [Q(q - δ - ε), Q(q + δ + ε)],   δ = z · sqrt(q (1 - q) / n)

where Q is the sketch's quantile function and δ is the distribution-free
(order-statistic, normal approximation) sampling half-width of the rank of the
sample q-quantile (Conover, *Practical Nonparametric Statistics*, 3rd ed.,
§3.2). With z = 2.576 the sampling part covers 99%; the sketch part is the KLL
bound at 99% confidence. Ranks are clipped to [0, 1], so a small window's
upper end is its maximum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sketches import NumericSketch

#: Ranks of the quantiles every latency signal reports.
REPORTED_RANKS = (0.5, 0.9, 0.95, 0.99)
#: z for a two-sided 99% sampling interval around a sample quantile's rank.
Z_99 = 2.576


@dataclass(frozen=True)
class ShardWindow:
    """One window of one shard of one (model, version), as the hot path emits.

    Attributes:
        sketch: serialized `NumericSketch` of durations in milliseconds.
        ttft_sketch: serialized `NumericSketch` of time to first token, or
            empty bytes when no span in the window carried one.
    """

    model: str
    version: str
    shard: str
    window_start_ms: int
    window_end_ms: int
    n: int
    n_error: int
    replicas: int
    sketch: bytes
    ttft_sketch: bytes = b""

    @cached_property
    def summary(self) -> LatencySummary:
        """Quantiles of this shard's durations, decoded once per window."""
        return LatencySummary.of(NumericSketch.from_bytes(self.sketch))


@dataclass
class LatencySummary:
    """Quantiles of one sketch, with the p99 interval used for decisions."""

    n: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    p99_lower_ms: float
    p99_upper_ms: float
    rank_error: float

    @classmethod
    def of(cls, sketch: NumericSketch, z: float = Z_99) -> LatencySummary:
        """Summarise a sketch; an empty sketch gives NaN quantiles."""
        p50, p90, p95, p99 = (float(v) for v in sketch.quantiles(REPORTED_RANKS))
        lower, upper = quantile_interval(sketch, 0.99, z)
        return cls(
            n=sketch.n,
            p50_ms=p50,
            p90_ms=p90,
            p95_ms=p95,
            p99_ms=p99,
            max_ms=float(sketch.max),
            p99_lower_ms=lower,
            p99_upper_ms=upper,
            rank_error=float(sketch.rank_error),
        )


def quantile_interval(
    sketch: NumericSketch, rank: float, z: float = Z_99
) -> tuple[float, float]:
    """Interval around the ``rank`` quantile covering sampling and sketch error.

    Returns:
        ``(lower, upper)`` as in the module docstring; ``(nan, nan)`` for an
        empty sketch.
    """
    if sketch.n == 0:
        return math.nan, math.nan
    half_width = z * math.sqrt(rank * (1.0 - rank) / sketch.n) + sketch.rank_error
    ranks = np.clip([rank - half_width, rank + half_width], 0.0, 1.0)
    lower, upper = sketch.quantiles(ranks)
    return float(lower), float(upper)


@dataclass
class FleetWindow:
    """One window of one (model, version), merged over its shards."""

    model: str
    version: str
    window_start_ms: int
    window_end_ms: int
    n: int
    n_error: int
    replicas: int
    sketch: NumericSketch
    ttft_sketch: NumericSketch
    shards: dict[str, ShardWindow] = field(default_factory=dict)

    @cached_property
    def summary(self) -> LatencySummary:
        """Quantiles of the merged durations, computed once. Read it only
        after `merge_fleet` has folded in every shard."""
        return LatencySummary.of(self.sketch)

    @property
    def error_rate(self) -> float:
        total = self.n + self.n_error
        return self.n_error / total if total else 0.0


def merge_fleet(shards: Iterable[ShardWindow]) -> dict[str, FleetWindow]:
    """Merge one window's shard rows of one model into a window per version.

    Args:
        shards: rows of a single model and window (the caller groups them).

    Returns:
        Fleet windows keyed by version; empty input gives an empty dict.
    """
    fleet: dict[str, FleetWindow] = {}
    for shard in shards:
        sketch = NumericSketch.from_bytes(shard.sketch)
        ttft = (
            NumericSketch.from_bytes(shard.ttft_sketch)
            if shard.ttft_sketch
            else NumericSketch()
        )
        current = fleet.get(shard.version)
        if current is None:
            fleet[shard.version] = FleetWindow(
                model=shard.model,
                version=shard.version,
                window_start_ms=shard.window_start_ms,
                window_end_ms=shard.window_end_ms,
                n=shard.n,
                n_error=shard.n_error,
                replicas=shard.replicas,
                sketch=sketch,
                ttft_sketch=ttft,
                shards={shard.shard: shard},
            )
            continue
        current.sketch.merge(sketch)
        current.ttft_sketch.merge(ttft)
        current.n += shard.n
        current.n_error += shard.n_error
        current.replicas += shard.replicas
        current.shards[shard.shard] = shard
    return fleet
