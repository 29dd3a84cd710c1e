"""Shared steps of the tests that run the real pipeline: run the stream job
over a topic set in bounded mode, read back what it wrote, and fill an
embedded store through the real loader.

Each run costs 20-60 s on 2 cores, so callers run it once per module or
session and share the result.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer

from driftline.config import loader_topics
from infra.kafka import create_topics
from infra.topics import default_specs, topic_names
from jobs import pipeline
from jobs.config import JobConfig
from jobs.guard import GuardPolicy
from producers import SimulationConfig
from producers import run as simulate
from schemas import Codec
from sinks.loader import Loader

WINDOW_MS = 5_000
HEADERS = [("dl.model", b"ranker"), ("dl.version", b"v1"), ("dl.shard", b"s00")]


def run_job(
    bootstrap: str, topics: dict[str, str], policy: GuardPolicy | None = None
) -> None:
    """Run the whole job over what ``topics`` hold now, then return."""
    pipeline.run(
        JobConfig.for_topics(
            bootstrap,
            topics,
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


@dataclass(frozen=True)
class FilledStore:
    """Where the run's output was stored, and what it ran on."""

    dsn: str
    bootstrap: str
    topics: dict[str, str]
    loaded: dict[str, int]

    @property
    def topics_for_loader(self) -> dict[str, str]:
        """Role → topic of what the loader reads."""
        return loader_topics(self.topics)


def fill_store(bootstrap: str, folder: Path) -> FilledStore:
    """Run simulator → job → loader once; return the store it filled."""
    suffix = f"dash{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, default_specs(suffix=suffix))
    topics = topic_names(suffix=suffix)
    start_ms = int(time.time() * 1000) - 120_000
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        topics["spans"],
        key=b"bad-replica",
        value=b"\x07not-a-span",
        headers=HEADERS,
        timestamp=start_ms + 20_000,
    )
    producer.flush(10)
    simulate(
        SimulationConfig(
            scenario="tail-regression",
            replicas=40,
            shards=4,
            rate_per_s=2000.0,
            duration_s=60.0,
            seed=11,
            rollout_at_s=10.0,
            start_ms=start_ms,
            features=True,
            feature_rate_per_s=300.0,
            numeric_features=6,
            categorical_features=2,
        ),
        bootstrap,
        topic=topics["spans"],
        feature_topic=topics["features"],
        deployment_topic=topics["deployments"],
        bootstrap_servers=bootstrap,
    )
    run_job(bootstrap, topics)
    dsn = f"chdb://{folder}"
    loader = Loader(
        bootstrap,
        dsn,
        topics=loader_topics(topics),
        group_id=f"dash-loader-{suffix}",
        batch_ms=200,
    )
    try:
        stats = loader.run_until_idle(3.0, timeout_s=60.0)
    finally:
        loader.close()
    return FilledStore(dsn, bootstrap, topics, dict(stats["loaded"]))
