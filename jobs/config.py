"""Settings of the driftline stream job, validated once before a graph is built.

Units are part of every name. Kafka security settings (SASL, TLS) travel in
``kafka_properties`` untouched and are never logged: `JobConfig.describe`
prints everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.errors import ConfigError
from infra import topics
from jobs.guard import GuardPolicy

#: The topic roles a job reads or writes; each is a ``<role>_topic`` field.
TOPIC_ROLES = (
    "spans",
    "features",
    "deployments",
    "profiles",
    "signals",
    "rollbacks",
    "deadletter",
)


@dataclass(frozen=True)
class JobConfig:
    """Everything the job graph depends on.

    Attributes:
        bootstrap: Kafka bootstrap servers.
        latency: run the latency branch (spans).
        drift: run the drift branch (feature samples).
        window_ms: tumbling window size, shared by both branches so the guard
            sees one window of each.
        grace_ms: bounded out-of-orderness of the watermark; a record more
            than this behind the newest seen is late and goes to dead letters.
        idle_ms: a partition silent this long stops holding back the watermark.
        bounded: read what the topics hold at start, then finish (backfill and
            tests); otherwise run until cancelled.
        checkpoint_ms: checkpoint interval; source offsets are committed on
            checkpoints.
        group_id: consumer group prefix of the sources; a fresh group starts
            at the earliest offset, a known one resumes from its commits.
        kafka_properties: extra Kafka client properties (security settings),
            passed to every source and sink as ``properties.*``.
        sketch_k: KLL accuracy; the sketches' default when None.
    """

    bootstrap: str
    spans_topic: str = topics.SPANS
    features_topic: str = topics.FEATURES
    signals_topic: str = topics.SIGNALS
    rollbacks_topic: str = topics.ROLLBACKS
    deadletter_topic: str = topics.DEADLETTER
    deployments_topic: str = topics.DEPLOYMENTS
    profiles_topic: str = topics.PROFILES
    latency: bool = True
    drift: bool = True
    window_ms: int = 10_000
    grace_ms: int = 2_000
    idle_ms: int = 30_000
    bounded: bool = False
    checkpoint_ms: int = 10_000
    parallelism: int = 1
    group_id: str = "driftline-job"
    kafka_properties: dict[str, str] = field(default_factory=dict)
    sketch_k: int | None = None
    policy: GuardPolicy = field(default_factory=GuardPolicy)

    def __post_init__(self) -> None:
        if not self.bootstrap:
            raise ConfigError(
                "no Kafka bootstrap address; pass --bootstrap or set "
                "DRIFTLINE_KAFKA_BOOTSTRAP (driftline up prints one)."
            )
        if not (self.latency or self.drift):
            raise ConfigError("nothing to run: enable the latency or the drift branch")
        for name in ("window_ms", "checkpoint_ms", "parallelism"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be positive, got {getattr(self, name)!r}"
                )
        for name in ("grace_ms", "idle_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    @classmethod
    def for_topics(
        cls, bootstrap: str, topics: Mapping[str, str], **settings: Any
    ) -> JobConfig:
        """A config over a role → name topic set (`infra.topics.topic_names`)."""
        named: dict[str, Any] = {f"{role}_topic": topics[role] for role in TOPIC_ROLES}
        return cls(bootstrap=bootstrap, **named, **settings)

    def describe(self) -> dict[str, Any]:
        """Settings safe to log: everything but the Kafka client properties."""
        shown = {k: v for k, v in self.__dict__.items() if k != "kafka_properties"}
        shown["kafka_properties"] = sorted(self.kafka_properties)
        return shown
