"""Decoding a consumed batch into table rows and dead letters, and sending those.

Contract:

- `decode_batch` never raises for a bad value: a signal, rollback or profile
  value that does not decode becomes a dead letter (its bytes, reason
  `UNDECODABLE`, the decoder's message and its ``topic[partition]@offset``),
  to be produced to the dead-letter topic. A value read from the dead-letter
  topic itself that does not decode is stored raw in ``dead_letters`` with
  reason `UNDECODABLE_DEAD_LETTER` instead, so it is never sent round again.
- A signal whose kind has no table (see `signal_table`) and a profile
  tombstone (null value: a deleted profile) are counted in
  `DecodedBatch.skipped` and produce no row.
- An empty batch decodes to empty record lists, no letters and no skips.
- `deliver_dead_letters` returns only once the broker acknowledged every
  letter; otherwise it raises `ServiceError` and the caller must not commit
  the batch's offsets (the letters are produced again on retry, and a letter
  may therefore reach the topic twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
from confluent_kafka import KafkaError, Message, Producer

from driftline.errors import SchemaError, ServiceError
from schemas import DEADLETTER, PROFILE, ROLLBACK, SIGNAL
from sinks import rows
from sinks.schema import (
    DEAD_LETTERS,
    DRIFT_RESULTS,
    FLEET_VERSIONS,
    LATENCY_WINDOWS,
    REFERENCE_PROFILES,
    ROLLBACK_EVENTS,
)

logger = logging.getLogger(__name__)

DECODE_STAGE = "loader.decode"
UNDECODABLE = "undecodable"
UNDECODABLE_DEAD_LETTER = "undecodable-dead-letter"

TABLE_ROWS: dict[str, Callable[[list[dict[str, Any]], datetime], pa.Table]] = {
    LATENCY_WINDOWS: rows.latency_table,
    DRIFT_RESULTS: rows.drift_table,
    FLEET_VERSIONS: rows.fleet_version_table,
    ROLLBACK_EVENTS: rows.rollback_table,
    DEAD_LETTERS: rows.dead_letter_table,
    REFERENCE_PROFILES: rows.profile_table,
}
"""Table → the function that turns a batch's decoded records into its rows."""


def _empty_records() -> dict[str, list[dict[str, Any]]]:
    return {name: [] for name in TABLE_ROWS}


@dataclass
class DecodedBatch:
    """What one batch decoded to: records per table, letters to send, skips."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=_empty_records)
    letters: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    def tables(self, loaded_at: datetime) -> dict[str, pa.Table]:
        """Return every table's rows (possibly empty) stamped with ``loaded_at``."""
        return {
            name: to_table(self.records[name], loaded_at)
            for name, to_table in TABLE_ROWS.items()
        }


def decode_batch(batch: Iterable[Message], role_of: Mapping[str, str]) -> DecodedBatch:
    """Decode ``batch``; ``role_of`` maps a topic to its role.

    A topic with no role, or the ``deadletter`` role, is read as dead letters.
    """
    decoded = DecodedBatch()
    for msg in batch:
        _decode_into(msg, role_of.get(msg.topic() or ""), decoded)
    return decoded


def _decode_into(msg: Message, role: str | None, decoded: DecodedBatch) -> None:
    records = decoded.records
    value = msg.value() or b""
    try:
        if role == "signals":
            record = SIGNAL.decode(value)
            table = signal_table(record)
            if table is None:
                decoded.skipped += 1
            else:
                records[table].append(record)
        elif role == "rollbacks":
            records[ROLLBACK_EVENTS].append(ROLLBACK.decode(value))
        elif role == "profiles":
            if msg.value() is None:
                decoded.skipped += 1  # a tombstone: profile deleted
            else:
                records[REFERENCE_PROFILES].append(PROFILE.decode(value))
        else:
            records[DEAD_LETTERS].append(DEADLETTER.decode(value))
    except SchemaError as exc:
        reason = UNDECODABLE_DEAD_LETTER if role == "deadletter" else UNDECODABLE
        logger.warning(
            "undecodable record %s[%d]@%d reason=%s",
            msg.topic(),
            msg.partition(),
            msg.offset(),
            reason,
        )
        letter = {
            "source_topic": msg.topic(),
            "source_partition": msg.partition(),
            "source_offset": msg.offset(),
            "key": msg.key(),
            "payload": value,
            "reason": reason,
            "detail": str(exc),
            "record_timestamp_ms": msg.timestamp()[1],
            "stage": DECODE_STAGE,
        }
        # A broken dead letter is stored, never sent round again.
        if role == "deadletter":
            records[DEAD_LETTERS].append(letter)
        else:
            decoded.letters.append(letter)


def signal_table(record: Mapping[str, Any]) -> str | None:
    """Return the table a decoded signal belongs in, or None to skip it."""
    if rows.is_latency_signal(record):
        return LATENCY_WINDOWS
    if rows.is_drift_signal(record):
        return DRIFT_RESULTS
    if rows.is_fleet_version_signal(record):
        return FLEET_VERSIONS
    return None


def deliver_dead_letters(
    producer: Producer,
    topic: str,
    letters: Iterable[dict[str, Any]],
    timeout_s: float,
) -> None:
    """Produce ``letters`` to ``topic`` and wait up to ``timeout_s`` for acks.

    Raises:
        ServiceError: a letter was still undelivered at the timeout, or the
            broker reported a delivery error.
    """
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err.str())

    for letter in letters:
        producer.produce(
            topic,
            DEADLETTER.encode(letter),
            key=letter["key"],
            on_delivery=on_delivery,
        )
    left = producer.flush(timeout_s)
    if left or failures:
        raise ServiceError(
            f"dead letters not delivered to {topic}: undelivered={left} "
            f"errors={failures[:3]!r}"
        )
