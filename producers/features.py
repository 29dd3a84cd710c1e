"""A feature logger for serving code: sampled request features to Kafka.

`FeatureLogger` is created once per serving replica (or per model a replica
serves) and called on the request path, after the model answered::

    features = FeatureLogger("kafka:9092", model="ranker", version="v2",
                             replica="ranker-007", shard="s03", sample_rate=0.1)
    features.log({"age": 41.0, "spend": None}, {"country": "DE"},
                 prediction=0.83)

Message contract (the drift job keys and windows on it without decoding
values; do not change it):

* topic: ``driftline.features`` unless told otherwise;
* key: the replica id, UTF-8;
* timestamp: the sample's ``timestamp_ms``;
* headers ``dl.model``, ``dl.version``, ``dl.shard``, ``dl.mode``: UTF-8
  bytes of those fields;
* value: the schemaless Avro ``FeatureSample`` record
  (``schemas/feature_sample.avsc``).

Missing values: a numeric feature that is None, NaN or ±inf is sent as null;
a categorical feature that is None is sent as null. A feature absent from the
mapping is not sent at all. ``prediction`` follows the numeric rule.

Request-path contract: `FeatureLogger.log` never blocks and never raises for
Kafka's sake. A call is either skipped by the sample rate, queued on the
producer, or dropped (the producer's queue is full, the sample cannot be
encoded, or the logger is closed) and counted. Counters, monotonic since
construction:

* ``sampled``: samples chosen by the rate and queued on the producer;
* ``skipped_by_rate``: calls the sample rate left out;
* ``dropped``: samples chosen by the rate but lost before the queue;
* ``failed``: queued samples whose delivery the producer reported as failed
  (served on `flush`, `close` and every so many calls).

So ``sampled + skipped_by_rate + dropped`` equals the calls made, and once the
producer has drained, ``sampled − failed`` samples reached the broker. Drops
and failures are logged as one WARNING with the counts, at most once per
``warn_interval_s``.

Several loggers may share one producer (the simulator gives every virtual
replica its own logger over one producer): pass it as ``producer``. The
caller then owns it: `close` flushes it but does not purge it, and its own
``queue.buffering.max.messages`` bounds the buffer.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, Producer

from driftline.errors import ConfigError
from producers.nonblocking import LossWarning, build_producer
from schemas import FEATURE_SAMPLE

logger = logging.getLogger(__name__)

DEFAULT_TOPIC = "driftline.features"
MODES = ("primary", "canary", "shadow")

# Delivery callbacks are served by poll(); poll every so many queued samples
# so failures are counted while the serving process runs.
_POLL_EVERY = 1024


class FeatureLogger:
    """Samples request features and queues them on Kafka without blocking.

    Args:
        bootstrap_servers: Kafka bootstrap list; unused (may be None) when
            ``producer`` is given.
        model: the model name.
        version: the model version this replica serves.
        replica: this replica's id; the message key.
        shard: the shard this replica serves.
        mode: ``primary``, ``canary`` or ``shadow``.
        topic: the feature topic.
        sample_rate: share of calls that are sampled, in (0, 1].
        max_buffered: most messages the producer holds before a sample is
            dropped; applies to a producer this logger builds.
        producer_config: extra librdkafka settings, never logged.
        producer: a ready confluent ``Producer`` (or any object with its
            ``produce``, ``poll``, ``flush`` and ``len``) to share.
        seed: seeds the sampling and the generated sample ids; None draws
            from the operating system.
        warn_interval_s: least time between two loss warnings.
        clock_s: monotonic clock in seconds, for the warning's rate limit.

    Raises:
        ConfigError: an argument is empty or out of range, or
            ``producer_config`` is unusable; the message names it.
    """

    def __init__(
        self,
        bootstrap_servers: str | None,
        *,
        model: str,
        version: str,
        replica: str,
        shard: str,
        mode: str = "primary",
        topic: str = DEFAULT_TOPIC,
        sample_rate: float = 1.0,
        max_buffered: int = 100_000,
        producer_config: Mapping[str, Any] | None = None,
        producer: Producer | None = None,
        seed: int | None = None,
        warn_interval_s: float = 10.0,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (
            ("model", model),
            ("version", version),
            ("replica", replica),
            ("shard", shard),
            ("topic", topic),
        ):
            if not value:
                raise ConfigError(f"{name} must not be empty, got {value!r}")
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not (isinstance(sample_rate, float | int) and 0.0 < sample_rate <= 1.0):
            raise ConfigError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
        if max_buffered < 1:
            raise ConfigError(f"max_buffered must be at least 1, got {max_buffered!r}")
        self.model, self.version, self.replica = model, version, replica
        self.shard, self.mode, self.topic = shard, mode, topic
        self.sample_rate = float(sample_rate)
        self.max_buffered = max_buffered
        self._warning = LossWarning(
            logger,
            "feature samples",
            topic,
            accepted_label="sampled",
            max_buffered=max_buffered,
            interval_s=warn_interval_s,
            clock_s=clock_s,
        )
        self._owns_producer = producer is None
        if producer is None:
            if not bootstrap_servers:
                raise ConfigError(
                    "bootstrap_servers must name a broker when no producer is "
                    f"given, got {bootstrap_servers!r}"
                )
            producer = build_producer(
                bootstrap_servers,
                max_buffered=max_buffered,
                producer_config=producer_config,
                error_cb=self._warning.client_error,
            )
        self._producer = producer
        self._key = replica.encode()
        self._headers: list[tuple[str, str | bytes | None]] = [
            ("dl.model", model.encode()),
            ("dl.version", version.encode()),
            ("dl.shard", shard.encode()),
            ("dl.mode", mode.encode()),
        ]
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._sampled = 0
        self._skipped = 0
        self._dropped = 0
        self._failed = 0
        self._closed = False

    # Counters -----------------------------------------------------------

    @property
    def sampled(self) -> int:
        """Samples chosen by the rate and queued on the producer."""
        return self._sampled

    @property
    def skipped_by_rate(self) -> int:
        """Calls the sample rate left out."""
        return self._skipped

    @property
    def dropped(self) -> int:
        """Samples chosen by the rate but lost before the producer's queue."""
        return self._dropped

    @property
    def failed(self) -> int:
        """Queued samples whose delivery the producer reported as failed."""
        return self._failed

    @property
    def buffered(self) -> int:
        """Messages in the producer's queue (all loggers sharing it)."""
        return len(self._producer)

    def stats(self) -> dict[str, int]:
        """All counters at once, plus the producer's current queue length."""
        with self._lock:
            return {
                "sampled": self._sampled,
                "skipped_by_rate": self._skipped,
                "dropped": self._dropped,
                "failed": self._failed,
                "buffered": len(self._producer),
            }

    # Request path -------------------------------------------------------

    def log(
        self,
        numeric: Mapping[str, float | None],
        categorical: Mapping[str, str | None] | None = None,
        prediction: float | None = None,
        prediction_label: str | None = None,
        timestamp_ms: int | None = None,
        sample_id: str | None = None,
    ) -> bool:
        """Sample one request's features and queue them; never waits.

        Args:
            numeric: numeric features by name; None, NaN or ±inf → null.
            categorical: categorical features by name; None → null.
            prediction: the model's numeric output, if any.
            prediction_label: the model's class output, if any.
            timestamp_ms: when the request was served, epoch ms; None means
                now.
            sample_id: a unique id (e.g. the trace id); None draws one.

        Returns:
            True when the sample was chosen by the rate and queued; False
            when the rate skipped it or it was dropped (see `stats`).
        """
        rate = self.sample_rate
        with self._lock:
            if rate < 1.0 and self._random.random() >= rate:
                self._skipped += 1
                return False
            if sample_id is None:
                sample_id = f"{self._random.getrandbits(128):032x}"
        if self._closed:
            return self._drop()
        if timestamp_ms is None:
            timestamp_ms = time.time_ns() // 1_000_000
        try:
            value = FEATURE_SAMPLE.encode(
                {
                    "sample_id": sample_id,
                    "timestamp_ms": timestamp_ms,
                    "model": self.model,
                    "version": self.version,
                    "replica": self.replica,
                    "shard": self.shard,
                    "mode": self.mode,
                    "numeric": {
                        name: (None if x is None or not math.isfinite(x) else float(x))
                        for name, x in numeric.items()
                    },
                    "categorical": dict(categorical) if categorical else {},
                    "prediction": (
                        None
                        if prediction is None or not math.isfinite(prediction)
                        else float(prediction)
                    ),
                    "prediction_label": prediction_label,
                }
            )
            self._producer.produce(
                self.topic,
                value=value,
                key=self._key,
                timestamp=timestamp_ms,
                headers=self._headers,
                on_delivery=self._on_delivery,
            )
        except BufferError:
            return self._drop()
        except Exception:
            # A bad value must cost one sample, never the request.
            logger.debug("feature sample not encodable, dropped", exc_info=True)
            return self._drop()
        with self._lock:
            self._sampled += 1
            poll = self._sampled % _POLL_EVERY == 0
        if poll:
            self._producer.poll(0)
            self._warn()
        return True

    # Lifecycle ----------------------------------------------------------

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait up to ``timeout_s`` for the producer's queue to drain.

        With a shared producer this waits for every logger's samples.

        Returns:
            True when nothing is left in the queue.
        """
        remaining = self._producer.flush(max(0.0, timeout_s))
        self._warn()
        return remaining == 0

    def wait_for_room(self, below: int, timeout_s: float) -> bool:
        """Wait until fewer than ``below`` messages are buffered.

        For backfills that must not drop, called by the caller's own thread
        between batches; `log` never waits.

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

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush for up to ``timeout_s``; later `log` calls drop and count.

        A producer this logger built is then purged of what is left (counted
        as ``failed``); a shared producer is left to its owner. Calling it
        twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        remaining = self._producer.flush(max(0.0, timeout_s))
        if remaining and self._owns_producer:
            self._producer.purge(in_queue=True, in_flight=True)
            self._producer.flush(0)
        self._warn(force=True)
        # A shared producer's loggers come by the hundred (the simulator).
        logger.log(
            logging.INFO if self._owns_producer else logging.DEBUG,
            "feature logger closed topic=%s replica=%s sampled=%d skipped_by_rate=%d "
            "dropped=%d failed=%d",
            self.topic,
            self.replica,
            self._sampled,
            self._skipped,
            self._dropped,
            self._failed,
        )

    # Helpers ------------------------------------------------------------

    def _on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            with self._lock:
                self._failed += 1

    def _drop(self) -> bool:
        with self._lock:
            self._dropped += 1
        self._warn()
        return False

    def _warn(self, force: bool = False) -> None:
        self._warning.losses(self._dropped, self._failed, self._sampled, force=force)
