"""Shared steps of the end-to-end tests: run the real job over a topic set in
bounded mode and read back what it wrote."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError

from jobs import pipeline
from jobs.config import JobConfig
from jobs.guard import GuardPolicy
from schemas import Codec

WINDOW_MS = 5_000


def run_job(
    bootstrap: str, topics: dict[str, str], policy: GuardPolicy | None = None
) -> None:
    """Run the whole job over what ``topics`` hold now, then return."""
    pipeline.run(
        JobConfig(
            bootstrap=bootstrap,
            spans_topic=topics["spans"],
            features_topic=topics["features"],
            deployments_topic=topics["deployments"],
            profiles_topic=topics["profiles"],
            signals_topic=topics["signals"],
            rollbacks_topic=topics["rollbacks"],
            deadletter_topic=topics["deadletter"],
            window_ms=WINDOW_MS,
            grace_ms=1_000,
            bounded=True,
            group_id=f"test-job-{uuid.uuid4().hex[:8]}",
            policy=policy or GuardPolicy(),
        )
    )


def read_topic(bootstrap: str, topic: str, codec: Codec) -> list[dict[str, Any]]:
    """Every record of ``topic``, decoded, once all partitions reach their end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-read-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    eof: set[int] = set()
    assigned = 0
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        assigned = len(consumer.assignment()) or assigned
        if message is None:
            if assigned and len(eof) >= assigned:
                break
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                eof.add(message.partition() or 0)
            continue
        eof.discard(message.partition() or 0)
        records.append(codec.decode(message.value() or b""))
    consumer.close()
    return records
