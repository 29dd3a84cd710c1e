"""The guard: one per-model state machine that turns window signals — latency
and drift alike — into rollback decisions.

It is plain Python, fed one model's closed windows in order by the stream job
(`jobs.guard_fn`), and keeps everything it needs in a picklable `GuardState`
that the job holds in Flink keyed state. The same inputs always give the same
outputs, so a replay or a restart from a checkpoint yields the same signals and
the same rollback event ids.

**Baseline.** When a rollout announcement for the model is known
(``driftline.deployments``), the version it replaces is the baseline and the
last known-good version (rule ``announced``). Otherwise the baseline is the
version that served the most samples over the last ``baseline_windows``
windows, ties to the lexically smaller version (rule ``most-traffic``). Every
other version present in a window is a candidate.

**Decisions.** Each candidate window gets a verdict per signal family
(`jobs.latency_policy`, `jobs.drift_policy`): breach, clear (resets the
family's streak) or hold. When one family breaches in ``breach_windows``
consecutive windows — for drift, with at least one feature drifted in every
one of them — the guard emits one rollback event for that (model, version)
incident, naming the baseline as the version to return to and listing the
evidence. The version is then not reported again, and the model is in cooldown
for ``cooldown_ms`` of event time.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from driftline.errors import ConfigError
from jobs.drift_policy import DriftPolicy, compare_features, drift_signals, judge_drift
from jobs.feature_window import FeatureSketches
from jobs.fleet import FleetWindow
from jobs.latency_policy import LatencyPolicy, judge_latency, latency_signals
from jobs.rollout import RolloutPolicy, RolloutState, VersionLoad, rollout_signals
from jobs.signals import Verdict

log = logging.getLogger(__name__)

BASELINE_RULE_TRAFFIC = "most-traffic"
BASELINE_RULE_ANNOUNCED = "announced"
LATENCY = "latency"
DRIFT = "drift"


@dataclass(frozen=True)
class GuardPolicy:
    """How the guard turns verdicts into decisions, and each family's policy."""

    breach_windows: int = 3
    cooldown_ms: int = 300_000
    baseline_windows: int = 10
    latency: LatencyPolicy = field(default_factory=LatencyPolicy)
    drift: DriftPolicy = field(default_factory=DriftPolicy)
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)

    def __post_init__(self) -> None:
        if self.breach_windows < 1 or self.baseline_windows < 1:
            raise ConfigError(
                "breach_windows and baseline_windows must be at least 1, got "
                f"{self.breach_windows!r} and {self.baseline_windows!r}"
            )
        if self.cooldown_ms < 0:
            raise ConfigError(f"cooldown_ms must be >= 0, got {self.cooldown_ms!r}")


@dataclass
class ModelWindow:
    """One closed window of one model, merged over its shards."""

    model: str
    window_start_ms: int
    window_end_ms: int
    latency: dict[str, FleetWindow] = field(default_factory=dict)
    features: dict[str, FeatureSketches] = field(default_factory=dict)
    feature_replicas: dict[str, int] = field(default_factory=dict)

    def loads(self) -> dict[str, VersionLoad]:
        """Replicas and samples per version, from spans or, failing that,
        feature samples."""
        versions = set(self.latency) | set(self.features)
        loads = {}
        for version in versions:
            fleet = self.latency.get(version)
            features = self.features.get(version)
            replicas = max(
                fleet.replicas if fleet else 0, self.feature_replicas.get(version, 0)
            )
            samples = fleet.n + fleet.n_error if fleet else 0
            loads[version] = VersionLoad(
                replicas, samples or (features.n if features else 0)
            )
        return loads


@dataclass
class Streak:
    """Consecutive breaching windows of one family for one candidate."""

    count: int = 0
    first_window_start_ms: int = 0
    windows: list[tuple[int, set[str], list[dict[str, Any]]]] = field(
        default_factory=list
    )


@dataclass
class GuardState:
    """Everything the guard remembers about one model between windows."""

    traffic: deque[tuple[int, dict[str, int]]] = field(default_factory=deque)
    streaks: dict[str, Streak] = field(default_factory=dict)
    rolled_back: set[str] = field(default_factory=set)
    last_rollback_end_ms: int | None = None
    announcement: dict[str, Any] | None = None
    profiles: dict[str, FeatureSketches] = field(default_factory=dict)
    rollout: RolloutState = field(default_factory=RolloutState)


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
    """Evaluates one model's windows in order against a `GuardPolicy`."""

    def __init__(self, policy: GuardPolicy | None = None) -> None:
        self.policy = policy or GuardPolicy()

    def baseline(self, state: GuardState, present: set[str]) -> tuple[str | None, str]:
        """The baseline version and the rule that chose it."""
        announced = state.announcement
        if announced is not None and announced["replaces"] in present:
            return announced["replaces"], BASELINE_RULE_ANNOUNCED
        totals: dict[str, int] = {}
        for _, counts in state.traffic:
            for version, n in counts.items():
                totals[version] = totals.get(version, 0) + n
        if not totals:
            return None, BASELINE_RULE_TRAFFIC
        return min(totals, key=lambda v: (-totals[v], v)), BASELINE_RULE_TRAFFIC

    def observe(self, state: GuardState, window: ModelWindow) -> WindowOutcome:
        """Evaluate one closed window and update ``state`` in place.

        Returns:
            Signals for every version, shard and feature, and a rollback event
            when a candidate's streak completes outside cooldown. An empty
            window gives no signals.
        """
        loads = window.loads()
        if not loads:
            return WindowOutcome(signals=[])
        policy = self.policy
        state.traffic.append(
            (window.window_start_ms, {v: load.samples for v, load in loads.items()})
        )
        while len(state.traffic) > policy.baseline_windows:
            state.traffic.popleft()
        baseline, rule = self.baseline(state, set(loads))
        signals: list[dict[str, Any]] = []
        rollback: dict[str, Any] | None = None
        for version in sorted(loads):
            is_candidate = baseline is not None and version != baseline
            role = (
                "candidate" if is_candidate else ("baseline" if baseline else "unknown")
            )
            verdicts: dict[str, Verdict] = {}
            fleet = window.latency.get(version)
            base_fleet = window.latency.get(baseline) if baseline else None
            if fleet is not None:
                if is_candidate and base_fleet is not None:
                    verdicts[LATENCY] = judge_latency(fleet, base_fleet, policy.latency)
                signals.extend(
                    latency_signals(
                        fleet, role, baseline, base_fleet, verdicts.get(LATENCY)
                    )
                )
            signals.extend(
                self._drift(state, window, version, role, baseline, verdicts)
            )
            if not is_candidate or baseline is None:
                continue
            event = self._decide(state, window, version, baseline, rule, verdicts)
            if event is not None and rollback is None:
                rollback = event
        signals.extend(
            rollout_signals(
                window.model,
                window.window_start_ms,
                window.window_end_ms,
                loads,
                baseline=baseline,
                announcement=state.announcement,
                state=state.rollout,
                policy=policy.rollout,
            )
        )
        return WindowOutcome(signals=signals, rollback=rollback)

    def _drift(
        self,
        state: GuardState,
        window: ModelWindow,
        version: str,
        role: str,
        baseline: str | None,
        verdicts: dict[str, Verdict],
    ) -> list[dict[str, Any]]:
        current = window.features.get(version)
        if current is None:
            return []
        policy = self.policy.drift
        replicas = window.feature_replicas.get(version, 0)
        signals: list[dict[str, Any]] = []
        base = window.features.get(baseline) if baseline else None
        if role == "candidate" and baseline is not None and base is not None:
            verdict, results = judge_drift(
                current, base, window.window_start_ms, policy
            )
            verdicts[DRIFT] = verdict
            signals += drift_signals(
                window.model,
                version,
                window.window_start_ms,
                window.window_end_ms,
                role=role,
                comparison="baseline",
                reference_version=baseline,
                baseline=baseline,
                replicas=replicas,
                results=results,
            )
        profile_version = version if version in state.profiles else baseline
        profile = state.profiles.get(profile_version) if profile_version else None
        if profile is not None and profile_version is not None and current.n:
            signals += drift_signals(
                window.model,
                version,
                window.window_start_ms,
                window.window_end_ms,
                role=role,
                comparison="reference",
                reference_version=profile_version,
                baseline=baseline,
                replicas=replicas,
                results=compare_features(profile, current, policy),
            )
        return signals

    def _decide(
        self,
        state: GuardState,
        window: ModelWindow,
        version: str,
        baseline: str,
        rule: str,
        verdicts: dict[str, Verdict],
    ) -> dict[str, Any] | None:
        ready: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for family, verdict in verdicts.items():
            outcome = self._advance(
                state, f"{family}:{version}", family, window, verdict
            )
            if outcome is not None:
                ready[family] = outcome
        if not ready or version in state.rolled_back:
            return None
        last = state.last_rollback_end_ms
        if last is not None and window.window_end_ms - last < self.policy.cooldown_ms:
            log.info(
                "guard holds a rollback in cooldown model=%s version=%s "
                "window_end_ms=%d",
                window.model,
                version,
                window.window_end_ms,
            )
            return None
        state.rolled_back.add(version)
        state.last_rollback_end_ms = window.window_end_ms
        state.rollout.converging[version] = baseline
        first_start = min(start for start, _ in ready.values())
        evidence = [item for _, items in ready.values() for item in items]
        shards = sorted({e["shard"] for e in evidence if e["shard"]})
        features = sorted({e["feature"] for e in evidence if e["feature"]})
        parts = []
        if LATENCY in ready:
            parts.append(
                "p99 latency breached"
                + (f" on shards {', '.join(shards)}" if shards else "")
            )
        if DRIFT in ready:
            parts.append(f"features drifted: {', '.join(features)}")
        windows = max(self.policy.breach_windows, 1)
        event = {
            "event_id": event_id(window.model, version, first_start),
            "model": window.model,
            "from_version": version,
            "to_version": baseline,
            "reason": (
                f"{window.model} {version} against {baseline} over {windows} "
                f"consecutive windows: {'; '.join(parts)}"
            ),
            "baseline_rule": rule,
            "first_breach_window_start_ms": first_start,
            "decided_window_end_ms": window.window_end_ms,
            "windows_breached": windows,
            "evidence": evidence,
        }
        log.info(
            "guard decided rollback model=%s from=%s to=%s event_id=%s rule=%s "
            "shards=%s features=%s",
            window.model,
            version,
            baseline,
            event["event_id"],
            rule,
            shards,
            features,
        )
        return event

    def _advance(
        self,
        state: GuardState,
        key: str,
        family: str,
        window: ModelWindow,
        verdict: Verdict,
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """Update one family's streak; return (first window, evidence) once it
        completes."""
        streak = state.streaks.setdefault(key, Streak())
        if verdict.clear:
            state.streaks[key] = Streak()
            return None
        if not verdict.breach:
            return None
        if streak.count == 0:
            streak.first_window_start_ms = window.window_start_ms
        streak.count += 1
        keep = self.policy.breach_windows
        streak.windows.append(
            (window.window_start_ms, verdict.subjects, verdict.evidence)
        )
        streak.windows = streak.windows[-keep:]
        if streak.count < keep:
            return None
        if family == DRIFT:
            persistent = set.intersection(
                *(subjects for _, subjects, _ in streak.windows)
            )
            if not persistent:
                return None
            items = [
                e
                for _, _, ev in streak.windows
                for e in ev
                if e["feature"] in persistent
            ]
        else:
            items = [e for _, _, ev in streak.windows for e in ev]
        return streak.first_window_start_ms, items
