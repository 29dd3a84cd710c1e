"""The driftline topic catalogue: every Kafka topic's name and default layout.

This is the one place topic names are spelled. Producers, jobs, the loader and
the CLI import the constants below; tests that need an isolated set of topics
call `topic_names` or `default_specs` with a suffix of their own, which yields
the same roles under names no other test uses.

Layouts follow what each topic carries: spans and feature samples are the
high-volume streams keyed by replica, so they get the most partitions;
signals, rollbacks and dead letters are low volume; deployments and reference
profiles are compacted (latest value per key is the state jobs broadcast).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPANS = "driftline.spans"
FEATURES = "driftline.features"
SIGNALS = "driftline.signals"
ROLLBACKS = "driftline.rollbacks"
DEADLETTER = "driftline.deadletter"
DEPLOYMENTS = "driftline.deployments"
PROFILES = "driftline.profiles"

ROLES: dict[str, str] = {
    "spans": SPANS,
    "features": FEATURES,
    "signals": SIGNALS,
    "rollbacks": ROLLBACKS,
    "deadletter": DEADLETTER,
    "deployments": DEPLOYMENTS,
    "profiles": PROFILES,
}
"""Role → default topic name, for every topic driftline uses."""

COMPACTED = {"cleanup.policy": "compact"}
"""Topic config for state topics: keep the latest record per key."""

_COMPACTED_TUNING = {
    **COMPACTED,
    # Let the cleaner look at a segment soon after it rolls, so a dev broker
    # shows compaction within minutes rather than after a week.
    "segment.ms": "600000",
    "min.cleanable.dirty.ratio": "0.1",
    # Tombstones (a deleted profile) stay visible to slow readers for a day.
    "delete.retention.ms": "86400000",
}


@dataclass(frozen=True)
class TopicSpec:
    """How one topic is laid out when driftline creates it.

    Attributes:
        partitions: Partition count; more than the consumers' parallelism
            wastes nothing on a dev broker.
        replication_factor: 1 on a single broker; a cluster sets its own.
        config: Topic-level Kafka configs (``cleanup.policy`` and friends).
    """

    partitions: int = 4
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


_DEFAULT_SPECS: dict[str, TopicSpec] = {
    "spans": TopicSpec(partitions=4),
    "features": TopicSpec(partitions=4),
    "signals": TopicSpec(partitions=2),
    "rollbacks": TopicSpec(partitions=1),
    "deadletter": TopicSpec(partitions=1),
    "deployments": TopicSpec(partitions=1, config=dict(_COMPACTED_TUNING)),
    "profiles": TopicSpec(partitions=1, config=dict(_COMPACTED_TUNING)),
}


def topic_names(prefix: str = "", suffix: str = "") -> dict[str, str]:
    """Return role → topic name, with an optional prefix and suffix.

    Args:
        prefix: Put in front of every name, e.g. ``"staging."``.
        suffix: Appended after a dot, e.g. ``"t123"`` gives
            ``driftline.spans.t123``; empty means no dot either.

    Returns:
        A new dict with one entry per role in `ROLES`.

    >>> topic_names(suffix="t1")["spans"]
    'driftline.spans.t1'
    >>> topic_names()["profiles"]
    'driftline.profiles'
    """
    tail = f".{suffix}" if suffix else ""
    return {role: f"{prefix}{name}{tail}" for role, name in ROLES.items()}


def default_specs(
    prefix: str = "", suffix: str = "", *, replication_factor: int = 1
) -> dict[str, TopicSpec]:
    """Return topic name → `TopicSpec` for every driftline topic.

    Args:
        prefix: As in `topic_names`.
        suffix: As in `topic_names`.
        replication_factor: Applied to every topic; keep 1 on a single broker.

    Returns:
        A new dict, ready for `infra.kafka.create_topics`.

    >>> specs = default_specs(suffix="t1")
    >>> specs["driftline.deployments.t1"].config["cleanup.policy"]
    'compact'
    """
    names = topic_names(prefix, suffix)
    return {
        names[role]: TopicSpec(
            partitions=spec.partitions,
            replication_factor=replication_factor,
            config=dict(spec.config),
        )
        for role, spec in _DEFAULT_SPECS.items()
    }
