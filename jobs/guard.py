"""The guard: a per-model policy state machine that turns window signals into
rollback decisions.

It is plain Python, fed one model's merged fleet windows in window order by
the stream job (`jobs.guard_fn`), and holds everything it needs in a picklable
`GuardState` that the job keeps in Flink keyed state. The same inputs always
give the same outputs, so a replay or a restart from a checkpoint produces the
same signals and the same rollback event ids.

Baseline rule. Until deployment announcements reach the guard, the baseline of
a model is the version that served the most spans over the last
``baseline_windows`` windows (ties go to the lexically smaller version); every
other version present in a window is a candidate, and the baseline is the last
known-good version a rollback returns to. Events say which rule chose it.

Latency policy, per candidate and window (see `jobs.fleet` for intervals):

* **breach** when both versions have at least ``min_samples`` spans and either
  the candidate's fleet p99 interval starts above ``p99_ratio`` times the end
  of the baseline's p99 interval, or some candidate shard with at least
  ``min_shard_samples`` spans has its p99 interval start above
  ``shard_p99_ratio`` times the end of the baseline's fleet p99 interval;
* **clear** when both have enough samples, nothing breaches, the candidate's
  point p99 ratio is below ``clear_ratio`` and no shard's point ratio exceeds
  ``shard_p99_ratio`` (hysteresis: between clear and breach the streak holds);
* otherwise (too few samples, or between the thresholds) the streak **holds**.

``breach_windows`` consecutive breaches raise one `RollbackEvent` per
(model, version) incident; after it, the model is in cooldown for
``cooldown_ms`` of event time and the version is not reported again. Comparing
interval ends rather than point estimates keeps every threshold above the
sketch's rank error and the sampling error of a tail quantile.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from driftline.errors import ConfigError
from jobs.fleet import FleetWindow, LatencySummary, quantile_interval
from sketches import NumericSketch

log = logging.getLogger(__name__)

BASELINE_RULE_TRAFFIC = "most-traffic"


@dataclass(frozen=True)
class LatencyPolicy:
    """Thresholds of the latency guard; every ratio is candidate / baseline."""

    p99_ratio: float = 1.5
    shard_p99_ratio: float = 1.5
    clear_ratio: float = 1.2
    min_samples: int = 200
    min_shard_samples: int = 50
    breach_windows: int = 3
    cooldown_ms: int = 300_000
    baseline_windows: int = 10

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
        for name in ("min_samples", "min_shard_samples", "breach_windows"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be at least 1, got {getattr(self, name)!r}"
                )
        if self.cooldown_ms < 0 or self.baseline_windows < 1:
            raise ConfigError(
                "cooldown_ms must be >= 0 and baseline_windows >= 1, got "
                f"{self.cooldown_ms!r} and {self.baseline_windows!r}"
            )


@dataclass
class Streak:
    """Consecutive breaching windows of one candidate version."""

    count: int = 0
    first_window_start_ms: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GuardState:
    """Everything the guard remembers about one model between windows."""

    traffic: deque[tuple[int, dict[str, int]]] = field(default_factory=deque)
    streaks: dict[str, Streak] = field(default_factory=dict)
    rolled_back: set[str] = field(default_factory=set)
    last_rollback_end_ms: int | None = None


@dataclass
class WindowOutcome:
    """What one window produced: signal records and at most one rollback."""

    signals: list[dict[str, Any]]
    rollback: dict[str, Any] | None = None


def event_id(model: str, from_version: str, first_window_start_ms: int) -> str:
    """Deterministic rollback id: the same incident always gets the same id."""
    digest = hashlib.sha256(f"{model}|{from_version}|{first_window_start_ms}".encode())
    return digest.hexdigest()[:32]


class Guard:
    """Evaluates one model's windows in order against a `LatencyPolicy`."""

    def __init__(self, policy: LatencyPolicy | None = None) -> None:
        self.policy = policy or LatencyPolicy()

    def baseline(self, state: GuardState) -> str | None:
        """The version with the most spans over the remembered windows."""
        totals: dict[str, int] = {}
        for _, counts in state.traffic:
            for version, n in counts.items():
                totals[version] = totals.get(version, 0) + n
        if not totals:
            return None
        return min(totals, key=lambda v: (-totals[v], v))

    def observe(
        self, state: GuardState, fleet: dict[str, FleetWindow]
    ) -> WindowOutcome:
        """Evaluate one closed window of one model and update ``state``.

        Args:
            state: the model's state; mutated in place.
            fleet: the window's fleet rows by version (`jobs.fleet.merge_fleet`).

        Returns:
            Signals for every version and shard, and a rollback event when a
            candidate's streak reaches ``breach_windows`` outside cooldown.
        """
        if not fleet:
            return WindowOutcome(signals=[])
        policy = self.policy
        first = next(iter(fleet.values()))
        state.traffic.append(
            (first.window_start_ms, {v: w.n for v, w in fleet.items()})
        )
        while len(state.traffic) > policy.baseline_windows:
            state.traffic.popleft()
        baseline = self.baseline(state)
        base = fleet.get(baseline) if baseline else None
        base_summary = LatencySummary.of(base.sketch) if base else None

        signals: list[dict[str, Any]] = []
        rollback: dict[str, Any] | None = None
        for version in sorted(fleet):
            window = fleet[version]
            summary = LatencySummary.of(window.sketch)
            if base is None or base_summary is None or version == baseline:
                signals.extend(
                    _signals(
                        window, summary, "baseline" if base else "unknown", baseline
                    )
                )
                continue
            verdict = self._judge(window, summary, base, base_summary)
            signals.extend(
                _signals(window, summary, "candidate", baseline, base_summary, verdict)
            )
            event = self._advance(state, window, baseline, verdict)
            if event is not None and rollback is None:
                rollback = event
        return WindowOutcome(signals=signals, rollback=rollback)

    def _judge(
        self,
        cand: FleetWindow,
        cand_summary: LatencySummary,
        base: FleetWindow,
        base_summary: LatencySummary,
    ) -> _Verdict:
        policy = self.policy
        verdict = _Verdict()
        if cand.n < policy.min_samples or base.n < policy.min_samples:
            return verdict
        verdict.enough = True
        base_upper = base_summary.p99_upper_ms
        fleet_lower_ratio = cand_summary.p99_lower_ms / base_upper
        point_ratio = cand_summary.p99_ms / base_summary.p99_ms
        if fleet_lower_ratio > policy.p99_ratio:
            verdict.evidence.append(
                _evidence(
                    "latency.fleet_p99_ratio",
                    cand,
                    None,
                    cand_summary.p99_ms,
                    base_summary.p99_ms,
                    policy.p99_ratio,
                    cand.n,
                )
            )
        shard_over_point = False
        for shard_id in sorted(cand.shards):
            row = cand.shards[shard_id]
            if row.n < policy.min_shard_samples:
                continue
            shard_sketch = NumericSketch.from_bytes(row.sketch)
            lower, _ = quantile_interval(shard_sketch, 0.99)
            p99 = float(shard_sketch.quantiles([0.99])[0])
            shard_over_point |= p99 / base_summary.p99_ms > policy.shard_p99_ratio
            if lower / base_upper > policy.shard_p99_ratio:
                verdict.outlier_shards.add(shard_id)
                verdict.evidence.append(
                    _evidence(
                        "latency.shard_p99_ratio",
                        cand,
                        shard_id,
                        p99,
                        base_summary.p99_ms,
                        policy.shard_p99_ratio,
                        row.n,
                    )
                )
        verdict.breach = bool(verdict.evidence)
        verdict.clear = (
            not verdict.breach
            and point_ratio < policy.clear_ratio
            and not shard_over_point
        )
        return verdict

    def _advance(
        self, state: GuardState, window: FleetWindow, baseline: str, verdict: _Verdict
    ) -> dict[str, Any] | None:
        policy = self.policy
        streak = state.streaks.setdefault(window.version, Streak())
        if verdict.clear:
            state.streaks[window.version] = Streak()
            return None
        if not verdict.breach:
            return None
        if streak.count == 0:
            streak.first_window_start_ms = window.window_start_ms
        streak.count += 1
        streak.evidence.extend(verdict.evidence)
        keep = policy.breach_windows
        windows = sorted({e["window_start_ms"] for e in streak.evidence})[-keep:]
        streak.evidence = [
            e for e in streak.evidence if e["window_start_ms"] in windows
        ]
        if streak.count < policy.breach_windows or window.version in state.rolled_back:
            return None
        if (
            state.last_rollback_end_ms is not None
            and window.window_end_ms - state.last_rollback_end_ms < policy.cooldown_ms
        ):
            log.info(
                "guard holds a rollback in cooldown model=%s version=%s "
                "window_end_ms=%d",
                window.model,
                window.version,
                window.window_end_ms,
            )
            return None
        state.rolled_back.add(window.version)
        state.last_rollback_end_ms = window.window_end_ms
        shards = sorted({e["shard"] for e in streak.evidence if e["shard"]})
        reason = (
            f"p99 latency of {window.model} {window.version} breached the guard in "
            f"{streak.count} consecutive windows against {baseline}"
            + (f"; outlying shards: {', '.join(shards)}" if shards else "")
        )
        event = {
            "event_id": event_id(
                window.model, window.version, streak.first_window_start_ms
            ),
            "model": window.model,
            "from_version": window.version,
            "to_version": baseline,
            "reason": reason,
            "baseline_rule": BASELINE_RULE_TRAFFIC,
            "first_breach_window_start_ms": streak.first_window_start_ms,
            "decided_window_end_ms": window.window_end_ms,
            "windows_breached": streak.count,
            "evidence": list(streak.evidence),
        }
        log.info(
            "guard decided rollback model=%s from=%s to=%s event_id=%s shards=%s",
            window.model,
            window.version,
            baseline,
            event["event_id"],
            shards,
        )
        return event


@dataclass
class _Verdict:
    enough: bool = False
    breach: bool = False
    clear: bool = False
    outlier_shards: set[str] = field(default_factory=set)
    evidence: list[dict[str, Any]] = field(default_factory=list)


def _evidence(
    signal: str,
    window: FleetWindow,
    shard: str | None,
    value: float,
    baseline_value: float,
    threshold: float,
    n: int,
) -> dict[str, Any]:
    return {
        "signal": signal,
        "window_start_ms": window.window_start_ms,
        "shard": shard,
        "feature": None,
        "value": value,
        "baseline_value": baseline_value,
        "threshold": threshold,
        "n": n,
    }


def _signals(
    window: FleetWindow,
    summary: LatencySummary,
    role: str,
    baseline: str | None,
    base_summary: LatencySummary | None = None,
    verdict: _Verdict | None = None,
) -> list[dict[str, Any]]:
    """The fleet signal of a version and one signal per shard."""
    base_p99 = base_summary.p99_ms if base_summary else math.nan
    ttft = window.ttft_sketch
    fleet = _signal_record(
        "latency.fleet",
        window,
        None,
        summary,
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
    records = [fleet]
    for shard_id in sorted(window.shards):
        row = window.shards[shard_id]
        sketch = NumericSketch.from_bytes(row.sketch)
        total = row.n + row.n_error
        records.append(
            _signal_record(
                "latency.shard",
                window,
                shard_id,
                LatencySummary.of(sketch),
                role,
                baseline,
                row.n,
                row.replicas,
                row.n_error / total if total else 0.0,
                base_p99,
                bool(verdict and shard_id in verdict.outlier_shards),
                row.sketch,
                None,
            )
        )
    return records


def _signal_record(
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
    return {
        "signal_id": (
            f"{kind}:{window.model}:{window.version}:{shard or '*'}:"
            f"{window.window_start_ms}"
        ),
        "kind": kind,
        "window_start_ms": window.window_start_ms,
        "window_end_ms": window.window_end_ms,
        "model": window.model,
        "version": window.version,
        "shard": shard,
        "role": role,
        "baseline_version": baseline,
        "n": n,
        "replicas": replicas,
        "latency": {
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
        },
        "sketch": sketch,
    }
