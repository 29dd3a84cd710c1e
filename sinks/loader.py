"""The loader: signals, rollbacks, dead letters and profiles into ClickHouse.

Sink contract:

- Offsets are committed synchronously, and only the exact offsets of a batch
  whose every insert succeeded (and whose dead letters the broker
  acknowledged). A failed insert commits nothing: the batch is retried with
  capped exponential backoff while its partitions are paused, and a loader
  stopped or killed meanwhile re-reads the batch from the last commit when it
  starts again. Nothing is lost; a record may be written twice, and the
  ReplacingMergeTree tables (read with ``FINAL``) make the second write
  replace the first.
- A signal or rollback value that does not decode is data, not a crash: it is
  produced to the dead-letter topic with its bytes, reason and source
  coordinates, counted, and its offset committed with the batch. A value on the
  dead-letter topic itself that does not decode is stored raw in
  ``dead_letters`` with reason ``undecodable-dead-letter`` instead of being
  sent round again.
- Every signal kind has a table: ``latency.shard`` and ``latency.fleet`` go to
  ``latency_windows``, ``drift.fleet`` to ``drift_results`` and
  ``fleet.version`` to ``fleet_versions``. A signal of another kind, or one
  whose kind lacks its stats record, is counted as skipped and committed.
- Reference profiles from the compacted profiles topic go to
  ``reference_profiles``; a tombstone (a deleted profile, null value) is
  counted as skipped — the store keeps the profile for the record.

The embedded store admits one process, so the loader also serves queries in
that process: `Loader.store` is its client, and `Loader.store_lock` must be
held around every use of it from another thread (`sinks.serve` does), since
the loader's own inserts hold it too.

Decoding and dead-letter delivery live in `sinks.decoding`; consumer lag, the
paused wait between retries and the offsets a commit stores in
`sinks.consuming`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.client import Client
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from driftline.errors import ConfigError, DriftlineError, ServiceError
from infra.topics import DEADLETTER as DEADLETTER_TOPIC
from infra.topics import PROFILES, ROLLBACKS, SIGNALS
from sinks.consuming import consumer_lag, hold_paused, next_offsets

# Re-exported: callers and tests import these names from the loader.
from sinks.decoding import DECODE_STAGE as DECODE_STAGE
from sinks.decoding import UNDECODABLE as UNDECODABLE
from sinks.decoding import UNDECODABLE_DEAD_LETTER as UNDECODABLE_DEAD_LETTER
from sinks.decoding import decode_batch, deliver_dead_letters
from sinks.schema import Retention, apply_schema
from sinks.stats import LoaderStats
from sinks.store import open_store, redact_dsn

logger = logging.getLogger(__name__)

DEFAULT_TOPICS: dict[str, str] = {
    "signals": SIGNALS,
    "rollbacks": ROLLBACKS,
    "deadletter": DEADLETTER_TOPIC,
    "profiles": PROFILES,
}
"""Role → topic the loader reads by default."""

_POLL_MAX = 1000  # messages per consume() call
_DEAD_LETTER_TIMEOUT_S = 10.0


class Loader:
    """Consume the driftline output topics and store them in ClickHouse.

    Args:
        bootstrap: Kafka ``host:port[,...]``.
        dsn: Store DSN, ``chdb://<dir>`` or ``http(s)://...`` (see
            `sinks.store.open_store`).
        topics: Role → topic name for ``signals``, ``rollbacks``,
            ``deadletter`` and ``profiles``; roles left out keep
            `DEFAULT_TOPICS`.
        group_id: Consumer group; its committed offsets are the loader's
            progress.
        batch_rows: Flush once this many records are buffered.
        batch_ms: Flush once the oldest buffered record waited this long.
        kafka_properties: Extra librdkafka settings (SASL, TLS, ...), passed to
            the consumer and the dead-letter producer untouched, never logged.
        clickhouse_settings: ClickHouse session settings for the store.
        clickhouse_security: Keyword arguments for a server store
            (``username``, ``password``, ``verify``, ...), never logged.
        retention: Row lifetimes applied with the schema.
        retry_initial_s: First backoff after a failed insert; doubles per
            attempt up to ``retry_max_s``.
        retry_max_s: Cap of the backoff.

    Raises:
        ConfigError: an unknown topic role or a non-positive batch size.
    """

    def __init__(
        self,
        bootstrap: str,
        dsn: str,
        *,
        topics: Mapping[str, str] | None = None,
        group_id: str = "driftline-loader",
        batch_rows: int = 5000,
        batch_ms: int = 1000,
        kafka_properties: Mapping[str, Any] | None = None,
        clickhouse_settings: Mapping[str, Any] | None = None,
        clickhouse_security: Mapping[str, Any] | None = None,
        retention: Retention | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
    ) -> None:
        unknown = set(topics or {}) - set(DEFAULT_TOPICS)
        if unknown:
            raise ConfigError(
                f"unknown topic roles {sorted(unknown)!r}; the loader reads "
                f"{sorted(DEFAULT_TOPICS)!r}"
            )
        if batch_rows <= 0 or batch_ms <= 0:
            raise ConfigError(
                f"batch_rows and batch_ms must be positive, got {batch_rows!r} "
                f"and {batch_ms!r}"
            )
        self.topics = {**DEFAULT_TOPICS, **(topics or {})}
        self._role_of = {name: role for role, name in self.topics.items()}
        self.dsn = dsn
        self.batch_rows = batch_rows
        self.batch_ms = batch_ms
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._store_settings = dict(clickhouse_settings or {})
        self._store_security = dict(clickhouse_security or {})
        self._retention = retention
        self._store: Client | None = None
        self.store_lock = threading.RLock()
        common = {"bootstrap.servers": bootstrap, "logger": logger}
        common.update(kafka_properties or {})
        self._consumer = Consumer(
            {
                **common,
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._producer = Producer({**common, "acks": "all"})
        self._subscribed = False
        self._assignment: list[TopicPartition] = []
        self.counters = LoaderStats()

    @property
    def store(self) -> Client:
        """The store client, opened (and its schema applied) on first use.

        Raises:
            ServiceError: the store cannot be opened (see `open_store`).
        """
        with self.store_lock:
            return self._open_store()

    def _open_store(self) -> Client:
        if self._store is None:
            opening = time.monotonic()
            client = open_store(
                self.dsn, settings=self._store_settings, **self._store_security
            )
            try:
                apply_schema(client, self._retention)
            except BaseException:
                client.close()
                raise
            self._store = client
            logger.debug("store opened in %.2f s", time.monotonic() - opening)
        return self._store

    def run(self, stop_event: threading.Event) -> None:
        """Load until ``stop_event`` is set, then flush what is buffered.

        The final flush gets one attempt; if it fails its offsets stay
        uncommitted and the records are read again on the next start.
        """
        self._loop(stop_event.is_set, stop_event.is_set)

    def run_until_idle(self, idle_s: float, timeout_s: float) -> dict[str, Any]:
        """Load until no record arrived for ``idle_s`` seconds, or ``timeout_s``.

        Idle time counts from the consumer's first partition assignment, so a
        slow group join does not read as idle.

        Returns:
            `stats`, with ``idle`` False when the timeout ended the run.
        """
        deadline = time.monotonic() + timeout_s
        timed_out = False

        def done() -> bool:
            nonlocal timed_out
            if time.monotonic() >= deadline:
                timed_out = True
                return True
            quiet_s = time.monotonic() - self.counters.last_activity
            return bool(self._assignment) and quiet_s >= idle_s

        self._loop(done, lambda: time.monotonic() >= deadline)
        result = self.stats()
        result["idle"] = not timed_out
        return result

    def stats(self) -> dict[str, Any]:
        """Return counters, rows/s and lag per ``topic[partition]`` (`consumer_lag`)."""
        result = self.counters.as_dict()
        result["lag"] = consumer_lag(self._consumer, self._assignment)
        return result

    def close(self) -> None:
        """Close the consumer (committing nothing more) and the store."""
        try:
            self._consumer.close()
        except RuntimeError:
            pass  # already closed
        self._producer.flush(_DEAD_LETTER_TIMEOUT_S)
        with self.store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _loop(
        self, should_stop: Callable[[], bool], abandon: Callable[[], bool]
    ) -> None:
        self._subscribe()
        logger.info(
            "loader started: store=%s topics=%s batch_rows=%d batch_ms=%d",
            redact_dsn(self.dsn),
            ",".join(sorted(self.topics.values())),
            self.batch_rows,
            self.batch_ms,
        )
        started = time.monotonic()
        batch: list[Message] = []
        first_at = 0.0
        try:
            while not should_stop():
                if batch:
                    wait_s = max(first_at + self.batch_ms / 1000 - time.monotonic(), 0)
                else:
                    wait_s = min(self.batch_ms / 1000, 0.5)
                want = min(self.batch_rows - len(batch), _POLL_MAX)
                for msg in self._consumer.consume(want, timeout=wait_s):
                    if self._usable(msg):
                        if not batch:
                            first_at = time.monotonic()
                        batch.append(msg)
                if batch and (
                    len(batch) >= self.batch_rows
                    or time.monotonic() - first_at >= self.batch_ms / 1000
                ):
                    self._flush(batch, abandon)
                    batch = []
            if batch:
                self._flush(batch, lambda: True)
        finally:
            self.counters.add_run_time(time.monotonic() - started)
            logger.info(
                "loader stopped: store=%s loaded=%s",
                redact_dsn(self.dsn),
                self.counters.loaded,
            )

    def _subscribe(self) -> None:
        if self._subscribed:
            return

        def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self._assignment = list(partitions)
            self.counters.touch()
            logger.debug("assigned partitions=%d", len(partitions))

        def on_revoke(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self._assignment = []

        self._consumer.subscribe(
            sorted(self.topics.values()), on_assign=on_assign, on_revoke=on_revoke
        )
        self._subscribed = True

    def _usable(self, msg: Message) -> bool:
        err = msg.error()
        if err is None:
            self.counters.touch()
            return True
        if err.code() == KafkaError._PARTITION_EOF:
            return False
        if err.fatal():
            raise ServiceError(f"the Kafka consumer failed: {err.str()}")
        logger.warning("consumer error topic=%s error=%s", msg.topic(), err.str())
        return False

    def _flush(self, batch: list[Message], abandon: Callable[[], bool]) -> None:
        """Decode, insert and commit one batch; see the module's sink contract."""
        flush_began = time.monotonic()
        loaded_at = datetime.now(UTC)
        decoded = decode_batch(batch, self._role_of)
        self.counters.skipped += decoded.skipped
        tables = decoded.tables(loaded_at)
        dead_lettered = len(decoded.letters)
        pending = {name: t for name, t in tables.items() if t.num_rows}
        attempt = 0
        while True:
            try:
                self._write(pending, decoded.letters)
                break
            except (ServiceError, KafkaException, OSError) as exc:
                attempt += 1
                self.counters.retries += 1
                if abandon():
                    logger.warning(
                        "batch abandoned uncommitted records=%d attempt=%d error=%s",
                        len(batch),
                        attempt,
                        exc,
                    )
                    return
                backoff_s = min(
                    self.retry_initial_s * 2 ** (attempt - 1), self.retry_max_s
                )
                logger.warning(
                    "store write failed attempt=%d records=%d retry_in_s=%.1f error=%s",
                    attempt,
                    len(batch),
                    backoff_s,
                    exc,
                )
                hold_paused(self._consumer, list(self._assignment), backoff_s, abandon)
        self._commit(batch)
        self.counters.record_batch(
            {name: t.num_rows for name, t in tables.items()},
            dead_lettered,
            time.monotonic() - flush_began,
        )
        logger.debug("flushed batch records=%d attempts=%d", len(batch), attempt + 1)

    def _write(
        self, pending: dict[str, pa.Table], letters: list[dict[str, Any]]
    ) -> None:
        """Insert what is still pending and deliver the dead letters.

        Removes each table from ``pending`` once stored, so a retry repeats only
        what failed; clears ``letters`` once the broker acknowledged them.
        """
        for name in list(pending):
            try:
                with self.store_lock:
                    self.store.insert_arrow(name, pending[name])
            except DriftlineError:
                raise
            except Exception as exc:  # clickhouse-connect and chdb raise many kinds
                raise ServiceError(
                    f"insert into {name} failed: {type(exc).__name__}: {exc}"
                ) from exc
            del pending[name]
        if letters:
            deliver_dead_letters(
                self._producer,
                self.topics["deadletter"],
                letters,
                _DEAD_LETTER_TIMEOUT_S,
            )
            letters.clear()

    def _commit(self, batch: list[Message]) -> None:
        offsets = next_offsets(batch)
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Stored but not committed: the records come again after a restart
            # or rebalance and replace their own rows.
            logger.warning(
                "offset commit failed offsets=%d error=%s", len(offsets), exc
            )
