"""Latency policy: is a candidate slower at the tail than its baseline?

Per candidate and window (quantile intervals from `jobs.fleet`):

* **breach** when both versions have at least ``min_samples`` spans and either
  the candidate's fleet p99 interval starts above ``p99_ratio`` times the end
  of the baseline's p99 interval, or some candidate shard with at least
  ``min_shard_samples`` spans has its p99 interval start above
  ``shard_p99_ratio`` times the end of the baseline's fleet p99 interval;
* **clear** when both have enough samples, nothing breaches, the candidate's
  point p99 ratio is below ``clear_ratio`` and no shard's point ratio exceeds
  ``shard_p99_ratio`` (hysteresis: between clear and breach a streak holds);
* otherwise (too few samples, or between the thresholds) the verdict holds.

Comparing interval ends rather than point estimates keeps every threshold
above both the KLL rank error and the sampling error of a tail quantile, so a
3-of-400-replica regression is called on its shards without a noisy shard of
a healthy candidate ever crossing the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from driftline.errors import ConfigError
from jobs.fleet import FleetWindow, LatencySummary
from jobs.signals import Verdict, evidence, signal_base


@dataclass(frozen=True)
class LatencyPolicy:
    """Thresholds of the latency policy; every ratio is candidate / baseline."""

    p99_ratio: float = 1.5
    shard_p99_ratio: float = 1.5
    clear_ratio: float = 1.2
    min_samples: int = 200
    min_shard_samples: int = 50

    def __post_init__(self) -> None:
        if not 1.0 < self.clear_ratio <= self.p99_ratio:
            raise ConfigError(
                "clear_ratio must be above 1 and at most p99_ratio, got "
                f"clear_ratio={self.clear_ratio!r} p99_ratio={self.p99_ratio!r}"
            )
        if self.shard_p99_ratio <= 1.0:
            raise ConfigError(
                f"shard_p99_ratio must be above 1, got {self.shard_p99_ratio!r}"
            )
        for name in ("min_samples", "min_shard_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be at least 1, got {getattr(self, name)!r}"
                )


def judge_latency(
    cand: FleetWindow,
    base: FleetWindow,
    policy: LatencyPolicy,
) -> Verdict:
    """Judge one candidate window against the baseline's window."""
    verdict = Verdict()
    if cand.n < policy.min_samples or base.n < policy.min_samples:
        return verdict
    verdict.enough = True
    cand_summary = cand.summary
    base_summary = base.summary
    base_upper = base_summary.p99_upper_ms
    point_ratio = cand_summary.p99_ms / base_summary.p99_ms
    if cand_summary.p99_lower_ms / base_upper > policy.p99_ratio:
        verdict.evidence.append(
            evidence(
                "latency.fleet_p99_ratio",
                cand.window_start_ms,
                value=cand_summary.p99_ms,
                baseline_value=base_summary.p99_ms,
                threshold=policy.p99_ratio,
                n=cand.n,
            )
        )
    shard_over_point = False
    for shard_id in sorted(cand.shards):
        row = cand.shards[shard_id]
        if row.n < policy.min_shard_samples:
            continue
        p99 = row.summary.p99_ms
        shard_over_point |= p99 / base_summary.p99_ms > policy.shard_p99_ratio
        if row.summary.p99_lower_ms / base_upper > policy.shard_p99_ratio:
            verdict.subjects.add(shard_id)
            verdict.evidence.append(
                evidence(
                    "latency.shard_p99_ratio",
                    cand.window_start_ms,
                    shard=shard_id,
                    value=p99,
                    baseline_value=base_summary.p99_ms,
                    threshold=policy.shard_p99_ratio,
                    n=row.n,
                )
            )
    verdict.breach = bool(verdict.evidence)
    verdict.clear = (
        not verdict.breach and point_ratio < policy.clear_ratio and not shard_over_point
    )
    return verdict


def latency_signals(
    window: FleetWindow,
    role: str,
    baseline: str | None,
    base: FleetWindow | None = None,
    verdict: Verdict | None = None,
) -> list[dict[str, Any]]:
    """The fleet signal of one version's window and one signal per shard."""
    base_p99 = base.summary.p99_ms if base is not None else math.nan
    ttft = window.ttft_sketch
    records = [
        _record(
            "latency.fleet",
            window,
            None,
            window.summary,
            role,
            baseline,
            window.n,
            window.replicas,
            window.error_rate,
            base_p99,
            bool(verdict and verdict.breach),
            window.sketch.to_bytes(),
            float(ttft.quantiles([0.99])[0]) if ttft.n else None,
        )
    ]
    for shard_id in sorted(window.shards):
        row = window.shards[shard_id]
        total = row.n + row.n_error
        records.append(
            _record(
                "latency.shard",
                window,
                shard_id,
                row.summary,
                role,
                baseline,
                row.n,
                row.replicas,
                row.n_error / total if total else 0.0,
                base_p99,
                bool(verdict and shard_id in verdict.subjects),
                row.sketch,
                None,
            )
        )
    return records


def _record(
    kind: str,
    window: FleetWindow,
    shard: str | None,
    summary: LatencySummary,
    role: str,
    baseline: str | None,
    n: int,
    replicas: int,
    error_rate: float,
    base_p99: float,
    breach: bool,
    sketch: bytes,
    ttft_p99: float | None,
) -> dict[str, Any]:
    ratio = summary.p99_ms / base_p99 if role == "candidate" and base_p99 > 0 else None
    record = signal_base(
        kind,
        window.model,
        window.version,
        window.window_start_ms,
        window.window_end_ms,
        role=role,
        baseline=baseline,
        n=n,
        replicas=replicas,
        shard=shard,
    )
    record["latency"] = {
        "p50_ms": summary.p50_ms,
        "p90_ms": summary.p90_ms,
        "p95_ms": summary.p95_ms,
        "p99_ms": summary.p99_ms,
        "max_ms": summary.max_ms,
        "p99_lower_ms": summary.p99_lower_ms,
        "p99_upper_ms": summary.p99_upper_ms,
        "rank_error": summary.rank_error,
        "ttft_p99_ms": ttft_p99,
        "error_rate": error_rate,
        "p99_ratio": ratio,
        "breach": breach,
    }
    record["sketch"] = sketch
    return record
