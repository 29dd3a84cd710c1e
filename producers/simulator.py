"""A seeded fleet simulator that emits real OpenTelemetry spans.

`run` drives the virtual replicas of a `SimulationConfig` (layout and latency
model in `producers.fleet`, tracers in `producers.span_stream`) through the
same path a serving replica uses: each virtual replica has its own
``TracerProvider`` whose ``Resource`` carries ``service.instance.id``,
``driftline.shard``, ``driftline.model`` and ``driftline.model.version``; a
candidate replica gets a second provider with the candidate version at the
rollout, as a restarted replica would. All providers share ONE
``BatchSpanProcessor`` and ONE exporter, so a 400-replica fleet costs one
export thread, not 400.

Spans carry explicit start and end times from the simulated clock, so their
event times do not depend on how fast the machine is. Trace and span ids come
from a generator seeded by the config, so one seed gives the same spans,
byte for byte, on every run with the same ``start_ms``.

Two paces:

* ``realtime=True`` emits each span when the wall clock reaches its end time
  (relative to the start), in small chunks; the demo and
  ``driftline simulate`` use it. If the machine falls behind, it catches up
  as fast as it can rather than skipping spans.
* ``realtime=False`` emits as fast as it can; the simulated clock advances
  ``1 / rate_per_s`` per span. After each chunk it hands the chunk to the
  exporter on the calling thread and, with a `KafkaSpanExporter`, waits for
  room in the producer's buffer, so a backfill loses no spans to its own
  speed.

With feature samples (``features=True`` or a feature scenario), each virtual
replica also logs its requests' features through a
`producers.features.FeatureLogger` on one shared producer, in step with its
spans on the simulated clock, at ``feature_rate_per_s``
(`producers.side_streams`); ``announce=True`` announces the rollout on the
deployments topic when the simulated clock reaches it. The scenarios, with
what each should and should not trigger, are tabled in `producers.scenarios`.

`run` never raises for a slow or absent broker: losses are counted in the
report (``spans_dropped``, ``feature_samples_dropped``) and by the exporter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from confluent_kafka import Producer
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
)

from producers.deployments import DEFAULT_TOPIC as DEPLOYMENTS_TOPIC
from producers.exporter import DEFAULT_TOPIC, KafkaSpanExporter
from producers.features import DEFAULT_TOPIC as FEATURES_TOPIC
from producers.fleet import (
    SimulationConfig,
    draw_traffic,
    plan_fleet,
)
from producers.side_streams import SideStreams
from producers.span_stream import CountingExporter, emit_spans, tracers

logger = logging.getLogger(__name__)

_BACKFILL_CHUNK = 4096
_REALTIME_TICK_S = 0.05
_QUEUE_SIZE = 65_536
_FLUSH_TIMEOUT_MS = 30_000

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulationReport:
    """What a run sent.

    Attributes:
        scenario: the config's scenario.
        seed: the config's seed.
        start_ms: simulated start, epoch ms.
        end_ms: end time of the last span sent, epoch ms (``start_ms`` when
            none was sent).
        rollout_ms: when the candidate replicas switched, epoch ms.
        spans_sent: spans created and handed to the span processor.
        spans_exported: spans the exporter accepted.
        spans_dropped: spans lost on the way (processor queue, exporter
            buffer, export failures).
        spans_failed: exported spans whose delivery to Kafka failed (0 for
            an exporter other than `KafkaSpanExporter`).
        spans_per_version: spans sent per model version.
        replica_shards: shard of every replica, by replica id.
        candidate_replicas: replicas that run the candidate after rollout.
        slow_replicas: candidate replicas with a slow tail (empty in steady).
        slow_shards: shards holding a slow replica.
        stopped: True when ``stop_event`` ended the run early.
        elapsed_s: wall-clock seconds the run took.
        planted_features: features whose candidate distribution differs
            from the baseline's (empty outside the drift scenarios).
        feature_samples_sent: feature samples handed to the loggers.
        feature_samples_dropped: of those, lost before the producer's queue.
        feature_samples_failed: queued samples whose delivery failed.
        feature_samples_per_version: feature samples sent per version.
        rollout_ms_by_replica: when each candidate replica switches (or
            would have, had the run lasted), epoch ms.
        target_replicas: replicas the rollout targets (the announcement's
            ``target_replicas``).
        announcement: the ``Deployment`` record announced, or None.
    """

    scenario: str
    seed: int
    start_ms: int
    end_ms: int
    rollout_ms: int
    spans_sent: int
    spans_exported: int
    spans_dropped: int
    spans_failed: int
    spans_per_version: dict[str, int]
    replica_shards: dict[str, str]
    candidate_replicas: tuple[str, ...]
    slow_replicas: tuple[str, ...]
    slow_shards: tuple[str, ...]
    stopped: bool
    elapsed_s: float
    planted_features: tuple[str, ...] = ()
    feature_samples_sent: int = 0
    feature_samples_dropped: int = 0
    feature_samples_failed: int = 0
    feature_samples_per_version: dict[str, int] = field(default_factory=dict)
    rollout_ms_by_replica: dict[str, int] = field(default_factory=dict)
    target_replicas: int = 0
    announcement: dict[str, Any] | None = None

    @property
    def spans_per_s(self) -> float:
        """Spans sent per wall-clock second."""
        return self.spans_sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run(
    config: SimulationConfig,
    target: SpanExporter | str,
    topic: str = DEFAULT_TOPIC,
    *,
    stop_event: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    producer_config: dict[str, Any] | None = None,
    flush_timeout_s: float = 30.0,
    feature_topic: str = FEATURES_TOPIC,
    deployment_topic: str = DEPLOYMENTS_TOPIC,
    bootstrap_servers: str | None = None,
    feature_producer: Producer | None = None,
) -> SimulationReport:
    """Simulate the fleet of ``config`` and send its spans.

    Args:
        config: what to simulate.
        target: a span exporter to send through (the caller keeps owning it:
            it is flushed, not shut down), or Kafka bootstrap servers, for
            which a `KafkaSpanExporter` on ``topic`` is built and shut down.
        topic: the span topic when ``target`` is a bootstrap string.
        stop_event: set it to end the run after the current chunk.
        progress: called after each chunk with (spans sent, spans planned).
        producer_config: librdkafka settings for the exporter built from a
            bootstrap string; ignored when ``target`` is an exporter.
        flush_timeout_s: longest wait for the producer at the end of the run
            and, in a backfill, for room in its buffer. A backfill that once
            waits this long in vain stops waiting (the broker is not
            draining) and lets the exporter drop and count instead.
        feature_topic: the feature topic, when the config emits features.
        deployment_topic: the deployments topic, when it announces.
        bootstrap_servers: Kafka for feature samples and the announcement
            when ``target`` is an exporter; a bootstrap ``target`` serves
            both otherwise.
        feature_producer: a producer the caller owns for feature samples,
            instead of one built from the bootstrap servers (it is flushed,
            not purged).

    Returns:
        Counts of what was sent, the fleet plan's candidate and slow
        replicas, and what the scenario planted.

    Raises:
        ConfigError: ``topic`` or ``producer_config`` is unusable, or the
            config sends features or announces and no Kafka is named.
    """
    plan = plan_fleet(config)
    start_ms = (
        config.start_ms if config.start_ms is not None else time.time_ns() // 1_000_000
    )
    start_ns = start_ms * 1_000_000
    rollout_ms = start_ms + round(config.rollout_offset_s * 1000)
    total = config.total_spans

    owned = isinstance(target, str)
    exporter: SpanExporter = (
        KafkaSpanExporter(target, topic, producer_config=producer_config)
        if isinstance(target, str)
        else target
    )
    kafka = exporter if isinstance(exporter, KafkaSpanExporter) else None
    # The wrapper also keeps the processor's shutdown off the caller's exporter.
    counting = CountingExporter(exporter)
    before_stats = kafka.stats() if kafka is not None else None

    side = SideStreams(
        config,
        plan,
        start_ms,
        bootstrap_servers=target if isinstance(target, str) else bootstrap_servers,
        feature_topic=feature_topic,
        deployment_topic=deployment_topic,
        feature_producer=feature_producer,
        producer_config=producer_config,
        flush_timeout_s=flush_timeout_s,
    )
    chunk = (
        max(1, min(_BACKFILL_CHUNK, round(config.rate_per_s * _REALTIME_TICK_S)))
        if config.realtime
        else _BACKFILL_CHUNK
    )
    processor = BatchSpanProcessor(
        counting,
        max_queue_size=_QUEUE_SIZE,
        schedule_delay_millis=200,
        max_export_batch_size=min(_BACKFILL_CHUNK, max(chunk, 512)),
    )
    before, after = tracers(config, plan, processor)
    rng = np.random.default_rng([config.seed, 2])
    logger.info(
        "simulation started scenario=%s replicas=%d shards=%d rate_per_s=%g "
        "duration_s=%g seed=%d realtime=%s slow=%s",
        config.scenario,
        config.replicas,
        config.shards,
        config.rate_per_s,
        config.duration_s,
        config.seed,
        config.realtime,
        ",".join(plan.slow_replicas) or "-",
    )

    sent = baseline_spans = candidate_spans = 0
    stopped = False
    wait_for_room = True
    wall_start_s = time.monotonic()
    try:
        while sent < total:
            if stop_event is not None and stop_event.is_set():
                stopped = True
                break
            count = min(chunk, total - sent)
            if config.realtime:
                due_s = wall_start_s + (sent + count - 1) / config.rate_per_s
                delay_s = due_s - time.monotonic()
                if delay_s > 0 and stop_event is not None:
                    if stop_event.wait(delay_s):
                        stopped = True
                        break
                elif delay_s > 0:
                    time.sleep(delay_s)
            traffic = draw_traffic(config, plan, rng, sent, count, start_ns)
            side.before_chunk(int(traffic.end_ns[-1]) - start_ns)
            n_base, n_cand = emit_spans(traffic, before, after)
            baseline_spans += n_base
            candidate_spans += n_cand
            sent += count
            if not config.realtime:
                processor.force_flush()
                if kafka is not None and wait_for_room:
                    room = kafka.wait_for_room(kafka.max_buffered // 2, flush_timeout_s)
                    if not room:
                        wait_for_room = False
                        logger.warning(
                            "broker not draining, backfill stops waiting "
                            "topic=%s buffered=%d waited_s=%g",
                            kafka.topic,
                            kafka.buffered,
                            flush_timeout_s,
                        )
            side.after_chunk(sent)
            if progress is not None:
                progress(sent, total)
    finally:
        side.finish(stopped)
        processor.shutdown()  # exports what is queued; leaves the exporter up
        if owned:
            assert kafka is not None
            kafka.shutdown(timeout_millis=flush_timeout_s * 1000)
        else:
            exporter.force_flush(round(flush_timeout_s * 1000))

    failed = 0
    if kafka is not None and before_stats is not None:
        after_stats = kafka.stats()
        exported = after_stats["exported"] - before_stats["exported"]
        failed = after_stats["failed"] - before_stats["failed"]
    else:
        exported = counting.offered - counting.failed
    feature_stats = side.stats()
    last_end_ms = (
        start_ms + int((sent - 1) * 1000 // config.rate_per_s) if sent else start_ms
    )
    report = SimulationReport(
        scenario=config.scenario,
        seed=config.seed,
        start_ms=start_ms,
        end_ms=last_end_ms,
        rollout_ms=rollout_ms,
        spans_sent=sent,
        spans_exported=exported,
        spans_dropped=sent - exported,
        spans_failed=failed,
        spans_per_version={
            config.baseline_version: baseline_spans,
            config.candidate_version: candidate_spans,
        },
        replica_shards=dict(zip(plan.replica_ids, plan.replica_shards, strict=True)),
        candidate_replicas=plan.candidate_replicas,
        slow_replicas=plan.slow_replicas,
        slow_shards=plan.slow_shards,
        stopped=stopped,
        elapsed_s=time.monotonic() - wall_start_s,
        planted_features=config.planted_features,
        feature_samples_sent=side.emitted,
        feature_samples_dropped=feature_stats["dropped"],
        feature_samples_failed=feature_stats["failed"],
        feature_samples_per_version=side.per_version(),
        rollout_ms_by_replica=plan.rollout_ms(start_ms),
        target_replicas=config.target_replicas,
        announcement=side.announcement,
    )
    logger.info(
        "simulation finished scenario=%s sent=%d exported=%d dropped=%d "
        "feature_samples=%d feature_dropped=%d elapsed_s=%.2f stopped=%s",
        report.scenario,
        report.spans_sent,
        report.spans_exported,
        report.spans_dropped,
        report.feature_samples_sent,
        report.feature_samples_dropped,
        report.elapsed_s,
        report.stopped,
    )
    return report
