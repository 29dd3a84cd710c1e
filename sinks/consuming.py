"""Consumer mechanics the loader's loop relies on: lag, paused waits, commits.

Contract:

- `consumer_lag` never raises: when the broker cannot answer it logs at DEBUG
  and returns the partitions it had measured so far (possibly none).
- `hold_paused` pauses the given partitions for the wait, keeps polling so the
  group sees the consumer alive, and resumes them when it returns or raises.
- `next_offsets` returns, per ``topic[partition]`` of a batch, the offset after
  the batch's highest one (what a commit stores); an empty batch returns none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

logger = logging.getLogger(__name__)


def consumer_lag(
    consumer: Consumer, assignment: list[TopicPartition]
) -> dict[str, int]:
    """Return records not yet read per ``topic[partition]`` of ``assignment``.

    Lag is the high watermark minus the consumer's position; a partition not
    read yet counts from its low watermark.
    """
    lag: dict[str, int] = {}
    try:
        positions = consumer.position(list(assignment))
        for tp in positions:
            low, high = consumer.get_watermark_offsets(tp, timeout=2.0, cached=False)
            position = tp.offset if tp.offset >= 0 else low
            lag[f"{tp.topic}[{tp.partition}]"] = max(high - position, 0)
    except (KafkaException, RuntimeError) as exc:
        logger.debug("lag unavailable: %s", exc)
    return lag


def hold_paused(
    consumer: Consumer,
    assignment: list[TopicPartition],
    wait_s: float,
    abandon: Callable[[], bool],
) -> None:
    """Wait ``wait_s`` (or until ``abandon()``) while keeping group membership.

    The ``assignment`` partitions are paused so polling (which the group needs
    to see within ``max.poll.interval.ms``) returns no records; a record that
    still arrives — from a partition assigned meanwhile — is sought back to.
    """
    if assignment:
        consumer.pause(assignment)
    deadline = time.monotonic() + wait_s
    try:
        while not abandon() and (left := deadline - time.monotonic()) > 0:
            msg = consumer.poll(min(left, 0.5))
            if msg is not None and msg.error() is None:
                consumer.seek(
                    TopicPartition(
                        msg.topic() or "", msg.partition() or 0, msg.offset() or 0
                    )
                )
    finally:
        if assignment:
            consumer.resume(assignment)


def next_offsets(batch: Iterable[Message]) -> list[TopicPartition]:
    """Return the offsets to commit once every record of ``batch`` is stored."""
    after: dict[tuple[str, int], int] = {}
    for msg in batch:
        key = (msg.topic() or "", msg.partition() or 0)
        after[key] = max(after.get(key, 0), (msg.offset() or 0) + 1)
    return [TopicPartition(t, p, o) for (t, p), o in after.items()]
