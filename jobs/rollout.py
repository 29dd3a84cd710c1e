"""Fleet version state: which replicas run which version, window by window.

For each model and window the guard emits one ``fleet.version`` signal per
version with its replica count and traffic share, and flags three situations
an operator asks about:

* **stalled rollout** — an announced rollout's replica count has not grown for
  ``stall_ms`` while still below its target;
* **split fleet** — the model has run more than one version for longer than
  ``max_split_ms`` (a canary nobody promoted or removed);
* **converged** — after a rollback, the version left no longer serves any
  traffic: the retreat is complete.

These are signals and log lines, never rollbacks: a stalled rollout is an
operator's decision to make, not a regression.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from driftline.errors import ConfigError
from jobs.signals import signal_base

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolloutPolicy:
    stall_ms: int = 60_000
    max_split_ms: int = 900_000

    def __post_init__(self) -> None:
        if self.stall_ms < 1 or self.max_split_ms < 1:
            raise ConfigError(
                "stall_ms and max_split_ms must be positive, got "
                f"{self.stall_ms!r} and {self.max_split_ms!r}"
            )


@dataclass
class RolloutState:
    split_since_ms: int | None = None
    tracked_version: str | None = None
    best_replicas: int = 0
    last_growth_ms: int | None = None
    stall_reported: bool = False
    converging: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionLoad:
    replicas: int
    samples: int


def rollout_signals(
    model: str,
    window_start_ms: int,
    window_end_ms: int,
    versions: dict[str, VersionLoad],
    *,
    baseline: str | None,
    announcement: dict[str, Any] | None,
    state: RolloutState,
    policy: RolloutPolicy,
) -> list[dict[str, Any]]:
    """Update ``state`` with one window and return its ``fleet.version`` signals."""
    if not versions:
        return []
    if len(versions) > 1:
        if state.split_since_ms is None:
            state.split_since_ms = window_start_ms
    else:
        state.split_since_ms = None
    split_ms = (
        0 if state.split_since_ms is None else window_end_ms - state.split_since_ms
    )

    announced = announcement["version"] if announcement else None
    target = int(announcement["target_replicas"]) if announcement else None
    stalled = False
    if announced is not None and target is not None:
        if announced != state.tracked_version:
            state.tracked_version = announced
            state.best_replicas = 0
            state.last_growth_ms = window_end_ms
            state.stall_reported = False
        current = versions.get(announced, VersionLoad(0, 0)).replicas
        if current > state.best_replicas:
            state.best_replicas = current
            state.last_growth_ms = window_end_ms
        since = window_end_ms - (state.last_growth_ms or window_end_ms)
        stalled = 0 < current < target and since >= policy.stall_ms
        if stalled and not state.stall_reported:
            state.stall_reported = True
            log.info(
                "rollout stalled model=%s version=%s replicas=%d target=%d "
                "no_growth_ms=%d",
                model,
                announced,
                current,
                target,
                since,
            )

    converged_to: set[str] = set()
    for left, returned_to in list(state.converging.items()):
        if versions.get(left, VersionLoad(0, 0)).samples == 0:
            converged_to.add(returned_to)
            del state.converging[left]
            log.info(
                "fleet converged after rollback model=%s left=%s on=%s",
                model,
                left,
                returned_to,
            )

    total = sum(load.samples for load in versions.values()) or 1
    records = []
    for version in sorted(versions):
        load = versions[version]
        role = "baseline" if version == baseline else "candidate"
        record = signal_base(
            "fleet.version",
            model,
            version,
            window_start_ms,
            window_end_ms,
            role=role if baseline else "unknown",
            baseline=baseline,
            n=load.samples,
            replicas=load.replicas,
        )
        record["rollout"] = {
            "replicas": load.replicas,
            "traffic_share": load.samples / total,
            "announced": version == announced,
            "target_replicas": target if version == announced else None,
            "stalled": stalled and version == announced,
            "split_ms": split_ms,
            "split_too_long": split_ms > policy.max_split_ms,
            "converged": version in converged_to,
        }
        records.append(record)
    return records
