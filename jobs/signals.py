"""Shapes shared by the policies: verdicts, evidence items and signal records.

Signal ids are deterministic — kind, model, version, subject (shard, feature
or ``*``) and window start — so a replayed window overwrites its rows in the
store instead of adding new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    """One policy's reading of one candidate window.

    Attributes:
        enough: both sides had the samples the policy needs.
        breach: the window counts towards a rollback.
        clear: the window resets a streak (hysteresis: neither breach nor
            clear holds it).
        subjects: what breached (shards for latency, features for drift).
        evidence: `evidence` items describing the breach.
    """

    enough: bool = False
    breach: bool = False
    clear: bool = False
    subjects: set[str] = field(default_factory=set)
    evidence: list[dict[str, Any]] = field(default_factory=list)


def evidence(
    signal: str,
    window_start_ms: int,
    *,
    value: float,
    baseline_value: float,
    threshold: float,
    n: int,
    shard: str | None = None,
    feature: str | None = None,
    p_value: float | None = None,
) -> dict[str, Any]:
    """One `driftline.Evidence` item of a rollback event."""
    return {
        "signal": signal,
        "window_start_ms": window_start_ms,
        "shard": shard,
        "feature": feature,
        "value": float(value),
        "baseline_value": float(baseline_value),
        "threshold": float(threshold),
        "n": int(n),
        "p_value": None if p_value is None else float(p_value),
    }


def signal_base(
    kind: str,
    model: str,
    version: str,
    window_start_ms: int,
    window_end_ms: int,
    *,
    role: str,
    baseline: str | None,
    n: int,
    replicas: int,
    shard: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """The common fields of a `driftline.Signal`; the caller fills one of
    ``latency``, ``drift`` or ``rollout``."""
    return {
        "signal_id": (
            f"{kind}:{model}:{version}:{subject or shard or '*'}:{window_start_ms}"
        ),
        "kind": kind,
        "window_start_ms": window_start_ms,
        "window_end_ms": window_end_ms,
        "model": model,
        "version": version,
        "shard": shard,
        "role": role,
        "baseline_version": baseline,
        "n": int(n),
        "replicas": int(replicas),
        "latency": None,
        "sketch": None,
        "drift": None,
        "rollout": None,
    }
