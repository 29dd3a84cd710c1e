"""Following the rollback topic: what `driftline alerts` and the demo read.

The job writes rollback events at least once; `follow_rollbacks` yields each
``event_id`` once per call, so a repeat after a job restart is not shown twice.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Generator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError

from driftline.errors import SchemaError
from schemas import ROLLBACK

log = logging.getLogger(__name__)


def follow_rollbacks(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = False,
    idle_timeout_s: float | None = None,
    stop_event: threading.Event | None = None,
    kafka_properties: Mapping[str, str] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Yield rollback events as they arrive.

    Args:
        from_beginning: start at the oldest retained event instead of now.
        idle_timeout_s: stop once this long passes with no new event; None
            follows until ``stop_event`` is set.

    Undecodable records are logged at WARNING with their offset and skipped;
    the loader stores them as dead letters.
    """
    consumer = Consumer(
        {
            **dict(kafka_properties or {}),
            "bootstrap.servers": bootstrap,
            "group.id": f"driftline-alerts-{uuid.uuid4().hex[:12]}",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: set[str] = set()
    last_event = time.monotonic()
    try:
        while stop_event is None or not stop_event.is_set():
            if (
                idle_timeout_s is not None
                and time.monotonic() - last_event > idle_timeout_s
            ):
                return
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("alerts consumer error topic=%s error=%s", topic, error)
                continue
            try:
                event = ROLLBACK.decode(message.value() or b"")
            except SchemaError as exc:
                log.warning(
                    "skipping undecodable rollback %s[%d]@%d: %s",
                    topic,
                    message.partition(),
                    message.offset(),
                    exc,
                )
                continue
            if event["event_id"] in seen:
                continue
            seen.add(event["event_id"])
            last_event = time.monotonic()
            yield event
    finally:
        consumer.close()


def format_event(event: Mapping[str, Any]) -> str:
    """A few human lines describing one rollback event."""
    lines = [
        f"ROLLBACK {event['model']}: {event['from_version']} -> {event['to_version']}"
        f"  (event {event['event_id']})",
        f"  reason: {event['reason']}",
    ]
    for item in event["evidence"]:
        where = f" shard={item['shard']}" if item.get("shard") else ""
        where += f" feature={item['feature']}" if item.get("feature") else ""
        if item.get("p_value") is not None:
            numbers = (
                f" statistic={item['value']:.3f} critical={item['threshold']:.3f}"
                f" p={item['p_value']:.1e} n={item['n']}"
                f" baseline_n={item['baseline_value']:.0f}"
            )
        else:
            numbers = (
                f" p99_ms={item['value']:.1f} baseline_p99_ms="
                f"{item['baseline_value']:.1f} ratio_threshold={item['threshold']}"
                f" n={item['n']}"
            )
        lines.append(
            f"  evidence: {item['signal']}{where}"
            f" window_start_ms={item['window_start_ms']}{numbers}"
        )
    return "\n".join(lines)
