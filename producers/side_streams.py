"""What a simulation sends besides spans: feature samples and the rollout
announcement.

`FeatureFleet` gives every virtual replica a `producers.features.FeatureLogger`
(a second one, for the candidate version, on a candidate replica: the
baseline logs mode ``primary``, the candidate ``canary``), all sharing one
confluent producer, so a 400-replica fleet costs one producer. Sample ``i``
of a run has the id ``<model>-<seed>-<i>``.

`SideStreams` keeps them in step with the spans: `producers.simulator.run`
calls `SideStreams.before_chunk` before it emits a chunk of spans (the
announcement goes out once the chunk reaches the rollout time) and
`SideStreams.after_chunk` after it (every feature sample served by then is
logged). In a backfill it waits for room in the shared producer between
blocks, as the span path does, and stops waiting once the broker has failed
to drain within ``flush_timeout_s``.

A failed announcement is logged as a WARNING and leaves
``SimulationReport.announcement`` None: like spans, a run never raises for a
slow or absent broker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Producer

from driftline.errors import ConfigError
from producers.deployments import AnnouncementError, announce
from producers.feature_model import FeatureModel, category_labels
from producers.feature_stream import BLOCK, FeatureChunk, FeatureSource
from producers.features import FeatureLogger
from producers.fleet import FleetPlan
from producers.nonblocking import build_producer
from producers.scenarios import SimulationConfig

logger = logging.getLogger(__name__)

_MAX_BUFFERED = 100_000


class FeatureFleet:
    """One `FeatureLogger` per virtual replica and version, over one producer.

    Args:
        config: the simulation.
        plan: its fleet layout.
        topic: the feature topic.
        bootstrap_servers: Kafka for a producer built here.
        producer: a producer the caller owns, used instead.
        producer_config: librdkafka settings for a producer built here.

    Raises:
        ConfigError: neither a producer nor bootstrap servers, or a bad
            ``producer_config``.
    """

    def __init__(
        self,
        config: SimulationConfig,
        plan: FleetPlan,
        topic: str,
        *,
        bootstrap_servers: str | None,
        producer: Producer | None = None,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self._owned = producer is None
        if producer is None:
            if not bootstrap_servers:
                raise ConfigError(
                    f"--scenario {config.scenario} sends feature samples and "
                    "needs Kafka bootstrap servers, got none"
                )
            producer = build_producer(
                bootstrap_servers,
                max_buffered=_MAX_BUFFERED,
                producer_config=producer_config,
            )
        self.producer = producer
        self.max_buffered = _MAX_BUFFERED

        def make(index: int, version: str, mode: str) -> FeatureLogger:
            return FeatureLogger(
                None,
                model=config.model,
                version=version,
                replica=plan.replica_ids[index],
                shard=plan.replica_shards[index],
                mode=mode,
                topic=topic,
                producer=producer,
            )

        self.before = [
            make(i, config.baseline_version, "primary") for i in range(config.replicas)
        ]
        self.after = [
            make(i, config.candidate_version, "canary")
            if plan.is_candidate[i]
            else self.before[i]
            for i in range(config.replicas)
        ]
        self._id_prefix = f"{config.model}-{config.seed}-"
        self.sent = 0
        self.per_candidate = 0

    def emit(self, chunk: FeatureChunk, model: FeatureModel) -> None:
        """Log every sample of ``chunk`` through its replica's logger."""
        numeric_names = model.numeric_names
        categorical_names = model.categorical_names
        numeric_rows = chunk.draw.numeric.tolist()
        labels = [
            column.tolist() for column in category_labels(model, chunk.draw.categorical)
        ]
        categorical_rows = list(zip(*labels, strict=True)) if labels else None
        prediction = chunk.draw.prediction.tolist()
        timestamp_ms = chunk.timestamp_ms.tolist()
        replica = chunk.replica.tolist()
        on_candidate = chunk.on_candidate.tolist()
        prefix, first = self._id_prefix, chunk.first
        before, after = self.before, self.after
        for k in range(len(timestamp_ms)):
            loggers = after if on_candidate[k] else before
            loggers[replica[k]].log(
                dict(zip(numeric_names, numeric_rows[k], strict=True)),
                dict(zip(categorical_names, categorical_rows[k], strict=True))
                if categorical_rows is not None
                else None,
                prediction=prediction[k],
                timestamp_ms=timestamp_ms[k],
                sample_id=f"{prefix}{first + k}",
            )
        self.sent += len(timestamp_ms)
        self.per_candidate += int(chunk.on_candidate.sum())

    def wait_for_room(self, timeout_s: float) -> bool:
        """Wait until the shared producer is at most half full."""
        return self.before[0].wait_for_room(self.max_buffered // 2, timeout_s)

    def stats(self) -> dict[str, int]:
        """Summed counters of every logger."""
        totals = {"sampled": 0, "skipped_by_rate": 0, "dropped": 0, "failed": 0}
        loggers = {id(lg): lg for lg in (*self.before, *self.after)}
        for lg in loggers.values():
            for name, value in lg.stats().items():
                if name in totals:
                    totals[name] += value
        return totals

    def close(self, timeout_s: float) -> None:
        """Flush the shared producer; purge what is left if it is ours."""
        remaining = self.producer.flush(max(0.0, timeout_s))
        if remaining and self._owned:
            self.producer.purge(in_queue=True, in_flight=True)
            self.producer.flush(0)
        for lg in {id(lg): lg for lg in (*self.before, *self.after)}.values():
            lg.close(0.0)


class SideStreams:
    """Feature samples and the announcement of one run, in step with spans.

    Args:
        config: the simulation.
        plan: its fleet layout.
        start_ms: simulated start, epoch ms.
        bootstrap_servers: Kafka for features and the announcement.
        feature_topic: the feature topic.
        deployment_topic: the deployments topic.
        feature_producer: a producer the caller owns, for features.
        producer_config: librdkafka settings for what is built here.
        flush_timeout_s: longest wait for room, and for the final flush.

    Raises:
        ConfigError: the config sends features or announces and no Kafka is
            named, or ``producer_config`` is unusable.
    """

    def __init__(
        self,
        config: SimulationConfig,
        plan: FleetPlan,
        start_ms: int,
        *,
        bootstrap_servers: str | None,
        feature_topic: str,
        deployment_topic: str,
        feature_producer: Producer | None,
        producer_config: Mapping[str, Any] | None,
        flush_timeout_s: float,
    ) -> None:
        self.config = config
        self.start_ms = start_ms
        self.source = FeatureSource(config, plan, start_ms)
        self.fleet: FeatureFleet | None = None
        if config.emits_features:
            self.fleet = FeatureFleet(
                config,
                plan,
                feature_topic,
                bootstrap_servers=bootstrap_servers,
                producer=feature_producer,
                producer_config=producer_config,
            )
        if config.announce and not bootstrap_servers:
            raise ConfigError(
                "--announce needs Kafka bootstrap servers to announce the "
                "rollout on, got none"
            )
        self._bootstrap = bootstrap_servers
        self._deployment_topic = deployment_topic
        self._producer_config = producer_config
        self._flush_timeout_s = flush_timeout_s
        self._rollout_offset_ns = round(config.rollout_offset_s * 1e9)
        self._announce_pending = config.announce
        self._wait_for_room = not config.realtime
        self.announcement: dict[str, Any] | None = None
        self.emitted = 0

    def before_chunk(self, last_offset_ns: int) -> None:
        """Announce the rollout once a chunk of spans reaches its time."""
        if not self._announce_pending or last_offset_ns < self._rollout_offset_ns:
            return
        self._announce_pending = False
        config = self.config
        assert self._bootstrap is not None
        try:
            self.announcement = announce(
                self._bootstrap,
                model=config.model,
                version=config.candidate_version,
                replaces=config.baseline_version,
                started_ms=self.start_ms + self._rollout_offset_ns // 1_000_000,
                target_replicas=config.target_replicas,
                announced_by="driftline simulate",
                topic=self._deployment_topic,
                producer_config=self._producer_config,
                timeout_s=self._flush_timeout_s,
            )
        except AnnouncementError as exc:
            logger.warning(
                "rollout not announced topic=%s model=%s version=%s error=%s",
                self._deployment_topic,
                config.model,
                config.candidate_version,
                exc,
            )

    def after_chunk(self, spans_sent: int) -> None:
        """Log every feature sample served by the time of ``spans_sent``."""
        if self.fleet is None:
            return
        elapsed_s = spans_sent / self.config.rate_per_s
        due = min(self.source.total, round(elapsed_s * self.config.feature_rate))
        self._emit_until(due)

    def finish(self, stopped: bool) -> None:
        """Log what is left unless the run was stopped; flush the producer."""
        if self.fleet is None:
            return
        if not stopped:
            self._emit_until(self.source.total)
        self.fleet.close(self._flush_timeout_s)

    def per_version(self) -> dict[str, int]:
        """Feature samples sent per version (empty without features)."""
        if self.fleet is None:
            return {}
        candidate = self.fleet.per_candidate
        return {
            self.config.baseline_version: self.fleet.sent - candidate,
            self.config.candidate_version: candidate,
        }

    def stats(self) -> dict[str, int]:
        """The feature loggers' summed counters (zeros without features)."""
        if self.fleet is None:
            return {"sampled": 0, "skipped_by_rate": 0, "dropped": 0, "failed": 0}
        return self.fleet.stats()

    def _emit_until(self, due: int) -> None:
        assert self.fleet is not None
        while self.emitted < due:
            count = min(BLOCK * 4, due - self.emitted)
            self.fleet.emit(self.source.take(self.emitted, count), self.source.model)
            self.emitted += count
            if self._wait_for_room and not self.fleet.wait_for_room(
                self._flush_timeout_s
            ):
                self._wait_for_room = False
                logger.warning(
                    "broker not draining, backfill stops waiting for feature "
                    "samples buffered=%d waited_s=%g",
                    len(self.fleet.producer),
                    self._flush_timeout_s,
                )
