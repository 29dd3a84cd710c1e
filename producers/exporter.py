"""An OpenTelemetry span exporter that writes inference spans to Kafka.

`KafkaSpanExporter` is a stock OpenTelemetry SDK ``SpanExporter``. A serving
replica adds it to its ``TracerProvider`` behind a ``BatchSpanProcessor``; the
processor's worker thread calls `KafkaSpanExporter.export`, so the serving
thread never waits on Kafka. Each inference span becomes one Avro ``Span``
record (``schemas/span.avsc``) on the topic, by default ``driftline.spans``.

Message contract (the stream job keys and windows on it without decoding
values; do not change it):

* key: the replica id, UTF-8;
* timestamp: the span's ``end_ms``;
* headers ``dl.model``, ``dl.version``, ``dl.shard``: UTF-8 bytes of those
  fields;
* value: the schemaless Avro ``Span`` record.

Where the fields come from. "span, resource" means the span's attribute wins
over the resource's:

=============  ===========================================================
Span field     Source
=============  ===========================================================
replica        ``service.instance.id`` (span, resource), else ``host.name``
               (resource), else ``"unknown"``
model          ``gen_ai.request.model`` (span), else ``driftline.model``
               (span, resource); no model → not an inference span: skipped
version        ``driftline.model.version`` (span, resource), else
               ``"unknown"``
shard          ``driftline.shard`` (span, resource), else ``"0"`` (a fleet
               that is not sharded is one shard)
ttft_ms        ``gen_ai.server.time_to_first_token`` (span, seconds, OTel
               GenAI semantic conventions) × 1000, else ``driftline.ttft_ms``
               (span, milliseconds), else null; negative or non-finite →
               null
is_error       span status code is ``ERROR``
start_ms       span start time, epoch ms (floored)
end_ms         span end time, epoch ms (floored); the event time
duration_ms    (end − start) in ns / 1e6, so sub-millisecond precision stays
attributes     every other span attribute, stringified (strings as they are,
               booleans ``true``/``false``, numbers by ``repr``, sequences
               as JSON lists); resource attributes are not copied
=============  ===========================================================

Set ``service.instance.id`` on the replica's resource: with this SDK,
``Resource.create`` otherwise fills it with a random UUID per process, which
still works as a key but tells an operator nothing.

`producers.mapping.span_record` implements this table.

Back-pressure contract: `export` never waits for Kafka. The producer's local
queue holds at most ``max_buffered`` messages (``queue.buffering.max.messages``);
a span offered while it is full is dropped and counted, not retried. Counters,
all monotonic since construction:

* ``exported``: inference spans accepted into the producer's queue;
* ``dropped``: spans lost before reaching the queue (full queue, encoding
  failure, export after shutdown);
* ``skipped``: spans without a model, i.e. not inference spans;
* ``failed``: accepted spans whose delivery later failed (reported by the
  producer's delivery callback, served on export, flush and shutdown).

So ``exported + dropped + skipped`` equals the spans offered, and once the
producer has drained, ``exported − failed`` spans reached the broker. Drops
and delivery failures are logged as one WARNING with the counts, at most once
per ``warn_interval_s``.

``producer_config`` passes librdkafka settings (SASL, TLS, ``acks``, ...)
through untouched; it is never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, Producer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from driftline.errors import ConfigError
from producers.mapping import ResourceFields, resource_fields, span_record
from producers.nonblocking import LossWarning, build_producer
from schemas import SPAN

logger = logging.getLogger(__name__)

_Headers = list[tuple[str, str | bytes | None]]

DEFAULT_TOPIC = "driftline.spans"


class KafkaSpanExporter(SpanExporter):
    """Exports inference spans to a Kafka topic without ever blocking.

    Args:
        bootstrap_servers: Kafka bootstrap list, ``host:port[,host:port]``.
        topic: the span topic.
        max_buffered: most messages the producer holds before a new span is
            dropped (``queue.buffering.max.messages``).
        producer_config: extra librdkafka settings (security, ``acks``, ...),
            passed through untouched and never logged.
        producer: a ready confluent ``Producer`` to use instead of building
            one (tests); its own ``queue.buffering.max.messages`` then bounds
            the buffer and delivery failures are only counted if it was built
            with `KafkaSpanExporter.on_delivery` as its ``on_delivery``.
        warn_interval_s: least time between two drop warnings.
        clock_s: monotonic clock in seconds, for the warning's rate limit.

    Raises:
        ConfigError: ``max_buffered`` is below 1, ``topic`` is empty, or
            ``producer_config`` sets a key the arguments own.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = DEFAULT_TOPIC,
        *,
        max_buffered: int = 100_000,
        producer_config: Mapping[str, Any] | None = None,
        producer: Producer | None = None,
        warn_interval_s: float = 10.0,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_buffered < 1:
            raise ConfigError(f"max_buffered must be at least 1, got {max_buffered!r}")
        if not topic:
            raise ConfigError(f"topic must not be empty, got {topic!r}")
        self.topic = topic
        self.max_buffered = max_buffered
        self._warning = LossWarning(
            logger,
            "spans",
            topic,
            accepted_label="exported",
            max_buffered=max_buffered,
            interval_s=warn_interval_s,
            clock_s=clock_s,
        )
        if producer is None:
            producer = build_producer(
                bootstrap_servers,
                max_buffered=max_buffered,
                producer_config=producer_config,
                on_delivery=self.on_delivery,
                error_cb=self._warning.client_error,
            )
        self._producer = producer

        self._lock = threading.Lock()
        self._exported = 0
        self._dropped = 0
        self._skipped = 0
        self._failed = 0
        self._shutdown = False
        self._resources: dict[int, tuple[Resource, ResourceFields]] = {}
        self._headers: dict[
            tuple[str, str, str], list[tuple[str, str | bytes | None]]
        ] = {}

        logger.info(
            "span exporter started topic=%s max_buffered=%d", topic, max_buffered
        )

    # Counters -----------------------------------------------------------

    @property
    def exported(self) -> int:
        """Inference spans accepted into the producer's queue."""
        return self._exported

    @property
    def dropped(self) -> int:
        """Spans lost before reaching the producer's queue."""
        return self._dropped

    @property
    def skipped(self) -> int:
        """Spans without a model, which are not inference spans."""
        return self._skipped

    @property
    def failed(self) -> int:
        """Accepted spans whose delivery the producer reported as failed."""
        return self._failed

    @property
    def buffered(self) -> int:
        """Messages in the producer's queue, not yet acknowledged."""
        return len(self._producer)

    def stats(self) -> dict[str, int]:
        """All counters at once, plus the producer's current queue length."""
        with self._lock:
            return {
                "exported": self._exported,
                "dropped": self._dropped,
                "skipped": self._skipped,
                "failed": self._failed,
                "buffered": len(self._producer),
            }

    # SpanExporter -------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue each inference span on the producer; never waits.

        Returns:
            SUCCESS when every inference span was queued; FAILURE when any
            was dropped, or after `shutdown` (all spans then count as
            dropped). Skipped spans do not make a batch fail.
        """
        if self._shutdown:
            with self._lock:
                self._dropped += len(spans)
            self._maybe_warn()
            return SpanExportResult.FAILURE

        exported = dropped = skipped = 0
        produce = self._producer.produce
        topic = self.topic
        for span in spans:
            record = span_record(span, self._fields_of(span.resource))
            if record is None:
                skipped += 1
                continue
            try:
                value = SPAN.encode(record)
            except Exception:
                # A bad attribute must cost one span, never the batch.
                logger.debug("span not encodable, dropped", exc_info=True)
                dropped += 1
                continue
            try:
                produce(
                    topic,
                    value=value,
                    key=record["replica"].encode(),
                    timestamp=record["end_ms"],
                    headers=self._headers_of(
                        record["model"], record["version"], record["shard"]
                    ),
                )
            except BufferError:
                dropped += 1
                continue
            exported += 1

        with self._lock:
            self._exported += exported
            self._dropped += dropped
            self._skipped += skipped
        self._producer.poll(0)  # serves delivery and error callbacks
        self._maybe_warn()
        return SpanExportResult.FAILURE if dropped else SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait up to ``timeout_millis`` for the producer's queue to drain.

        Returns:
            True when nothing is left in the queue.
        """
        remaining = self._producer.flush(max(0.0, timeout_millis / 1000.0))
        self._maybe_warn()
        return remaining == 0

    def wait_for_room(self, below: int, timeout_s: float) -> bool:
        """Wait until fewer than ``below`` messages are buffered.

        For backfills that must not drop, called between batches by the
        caller's own thread; `export` never waits.

        Returns:
            True when the buffer went below ``below`` within ``timeout_s``.
        """
        deadline_s = time.monotonic() + timeout_s
        while len(self._producer) >= below:
            left_s = deadline_s - time.monotonic()
            if left_s <= 0:
                return False
            self._producer.poll(min(0.05, left_s))
        return True

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Flush for up to ``timeout_millis``, then purge what is left.

        Purged messages are reported as ``failed``. Later `export` calls
        return FAILURE. Calling it twice is harmless.
        """
        if self._shutdown:
            return
        self._shutdown = True
        remaining = self._producer.flush(max(0.0, timeout_millis / 1000.0))
        if remaining:
            self._producer.purge(in_queue=True, in_flight=True)
            self._producer.flush(0)
        self._maybe_warn(force=True)
        logger.info(
            "span exporter stopped topic=%s exported=%d dropped=%d skipped=%d "
            "failed=%d",
            self.topic,
            self._exported,
            self._dropped,
            self._skipped,
            self._failed,
        )

    # Callbacks and helpers ----------------------------------------------

    def on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        """Producer delivery callback: counts failed deliveries."""
        if err is not None:
            with self._lock:
                self._failed += 1

    def _fields_of(self, resource: Resource) -> ResourceFields:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        fields = resource_fields(resource)
        if len(self._resources) >= 4096:
            self._resources.clear()
        self._resources[id(resource)] = (resource, fields)
        return fields

    def _headers_of(self, model: str, version: str, shard: str) -> _Headers:
        routing = (model, version, shard)
        headers = self._headers.get(routing)
        if headers is None:
            headers = [
                ("dl.model", model.encode()),
                ("dl.version", version.encode()),
                ("dl.shard", shard.encode()),
            ]
            if len(self._headers) >= 4096:
                self._headers.clear()
            self._headers[routing] = headers
        return headers

    def _maybe_warn(self, force: bool = False) -> None:
        self._warning.losses(self._dropped, self._failed, self._exported, force=force)
