"""Settings of the latency job, validated once before a graph is built.

Units are part of every name. Kafka security settings (SASL, TLS) travel in
``kafka_properties`` untouched and are never logged: `LatencyJobConfig.describe`
prints everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftline.errors import ConfigError
from infra import topics
from jobs.guard import LatencyPolicy


@dataclass(frozen=True)
class LatencyJobConfig:
    """Everything the latency job graph depends on.

    Attributes:
        bootstrap: Kafka bootstrap servers.
        window_ms: tumbling window size.
        grace_ms: bounded out-of-orderness of the watermark; a span more than
            this behind the newest span seen is late and goes to dead letters.
        idle_ms: a partition silent this long stops holding back the watermark.
        bounded: read the spans that exist at start, then finish (backfill and
            tests); otherwise run until cancelled.
        checkpoint_ms: checkpoint interval; offsets are committed on checkpoints.
        group_id: consumer group of the source; a fresh group starts at the
            earliest offset, an existing one resumes from its commits.
        kafka_properties: extra Kafka client properties (security settings),
            passed to every source and sink as ``properties.*``.
        sketch_k: KLL accuracy; the sketches' default when None.
    """

    bootstrap: str
    spans_topic: str = topics.SPANS
    signals_topic: str = topics.SIGNALS
    rollbacks_topic: str = topics.ROLLBACKS
    deadletter_topic: str = topics.DEADLETTER
    window_ms: int = 10_000
    grace_ms: int = 2_000
    idle_ms: int = 30_000
    bounded: bool = False
    checkpoint_ms: int = 10_000
    parallelism: int = 1
    group_id: str = "driftline-latency"
    kafka_properties: dict[str, str] = field(default_factory=dict)
    sketch_k: int | None = None
    policy: LatencyPolicy = field(default_factory=LatencyPolicy)

    def __post_init__(self) -> None:
        if not self.bootstrap:
            raise ConfigError(
                "no Kafka bootstrap address; pass --bootstrap or set "
                "DRIFTLINE_KAFKA_BOOTSTRAP (driftline up prints one)."
            )
        for name in ("window_ms", "checkpoint_ms", "parallelism"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be positive, got {getattr(self, name)!r}"
                )
        for name in ("grace_ms", "idle_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def describe(self) -> dict[str, Any]:
        """Settings safe to log: everything but the Kafka client properties."""
        shown = {k: v for k, v in self.__dict__.items() if k != "kafka_properties"}
        shown["kafka_properties"] = sorted(self.kafka_properties)
        return shown
