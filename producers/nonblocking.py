"""The never-block producer pattern shared by every writer in a serving replica.

A serving replica must not wait on Kafka. Everything in `producers` that writes
telemetry (`producers.exporter.KafkaSpanExporter`,
`producers.features.FeatureLogger`) does it the same way:

* one confluent ``Producer`` whose local queue is bounded by
  ``queue.buffering.max.messages``; ``produce`` on a full queue raises
  ``BufferError`` at once, and the writer drops and counts the record instead
  of retrying;
* delivery failures arrive later through a delivery callback and are counted
  as ``failed``;
* losses are reported as one WARNING with the counts, at most once per
  interval, never once per record (`LossWarning`), and librdkafka's repeated
  client errors (an unreachable broker) share that rate limit.

`build_producer` makes such a producer. It refuses ``producer_config`` keys the
writer owns, passes every other librdkafka setting (SASL, TLS, ``acks``)
through untouched and never logs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from driftline.errors import ConfigError

# librdkafka's own log lines (connection failures, ...), served on poll, go
# here rather than to stderr.
LIBRDKAFKA_LOGGER = logging.getLogger("producers.librdkafka")

OWNED_KEYS = frozenset(
    {"bootstrap.servers", "queue.buffering.max.messages", "on_delivery"}
)
"""Producer settings a writer sets from its own arguments."""

DEFAULT_PRODUCER_CONFIG: dict[str, Any] = {
    "linger.ms": 50,
    "compression.type": "lz4",
    "delivery.report.only.error": True,
}
"""Defaults for a telemetry stream; ``producer_config`` overrides them."""

DeliveryCallback = Callable[[KafkaError | None, Any], None]


def build_producer(
    bootstrap_servers: str,
    *,
    max_buffered: int,
    producer_config: Mapping[str, Any] | None = None,
    on_delivery: DeliveryCallback | None = None,
    error_cb: Callable[[KafkaError], None] | None = None,
) -> Producer:
    """Build a producer whose queue holds at most ``max_buffered`` messages.

    Args:
        bootstrap_servers: Kafka bootstrap list, ``host:port[,host:port]``.
        max_buffered: ``queue.buffering.max.messages``.
        producer_config: extra librdkafka settings, never logged.
        on_delivery: producer-wide delivery callback, if any.
        error_cb: client error callback, unless ``producer_config`` sets one.

    Raises:
        ConfigError: ``max_buffered`` is below 1, ``producer_config`` sets a
            key the arguments own, or librdkafka rejects a setting.
    """
    if max_buffered < 1:
        raise ConfigError(f"max_buffered must be at least 1, got {max_buffered!r}")
    owned = sorted(OWNED_KEYS.intersection(producer_config or {}))
    if owned:
        raise ConfigError(
            f"producer_config must not set {owned!r}: pass bootstrap_servers "
            "and max_buffered as arguments instead"
        )
    config: dict[str, Any] = dict(DEFAULT_PRODUCER_CONFIG)
    config.update(producer_config or {})
    config["bootstrap.servers"] = bootstrap_servers
    config["queue.buffering.max.messages"] = max_buffered
    if on_delivery is not None:
        config["on_delivery"] = on_delivery
    if error_cb is not None:
        config.setdefault("error_cb", error_cb)
    config.setdefault("logger", LIBRDKAFKA_LOGGER)
    try:
        return Producer(config)
    except KafkaException as exc:
        # librdkafka names the bad property, never its value.
        raise ConfigError(f"bad Kafka producer setting: {exc}") from exc


class LossWarning:
    """Rate-limited WARNING lines about lost records and client errors.

    Args:
        log: the writer's module logger.
        what: what is lost, plural (``"spans"``, ``"feature samples"``).
        topic: the writer's topic, for the log line's context.
        accepted_label: name of the writer's "accepted" counter.
        max_buffered: the writer's buffer bound, for the log line's context.
        interval_s: least time between two warnings of one kind.
        clock_s: monotonic clock in seconds.
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        topic: str,
        *,
        accepted_label: str,
        max_buffered: int,
        interval_s: float = 10.0,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._topic = topic
        self._accepted_label = accepted_label
        self._max_buffered = max_buffered
        self._interval_s = interval_s
        self._clock_s = clock_s
        self._last_warn_s: float | None = None
        self._warned_dropped = 0
        self._warned_failed = 0
        self._last_error_s: float | None = None
        self._errors_since_warning = 0

    def losses(
        self, dropped: int, failed: int, accepted: int, *, force: bool = False
    ) -> None:
        """Warn about counts that grew since the last warning, if it is time.

        Args:
            dropped: the writer's monotonic ``dropped`` counter.
            failed: the writer's monotonic ``failed`` counter.
            accepted: the writer's accepted counter, for context.
            force: warn now even inside the interval (shutdown).
        """
        if dropped == self._warned_dropped and failed == self._warned_failed:
            return
        now_s = self._clock_s()
        last_s = self._last_warn_s
        if not force and last_s is not None and now_s - last_s < self._interval_s:
            return
        self._log.warning(
            "%s lost topic=%s dropped=%d (+%d) failed=%d (+%d) %s=%d max_buffered=%d",
            self._what,
            self._topic,
            dropped,
            dropped - self._warned_dropped,
            failed,
            failed - self._warned_failed,
            self._accepted_label,
            accepted,
            self._max_buffered,
        )
        self._last_warn_s = now_s
        self._warned_dropped, self._warned_failed = dropped, failed

    def client_error(self, err: KafkaError) -> None:
        """Producer ``error_cb``: librdkafka repeats these every reconnect,
        so they are rate-limited like the loss warnings."""
        now_s = self._clock_s()
        last_s = self._last_error_s
        self._errors_since_warning += 1
        if last_s is not None and now_s - last_s < self._interval_s:
            return
        self._log.warning(
            "kafka producer error topic=%s error=%s errors_since_last_warning=%d",
            self._topic,
            err,
            self._errors_since_warning,
        )
        self._last_error_s = now_s
        self._errors_since_warning = 0
