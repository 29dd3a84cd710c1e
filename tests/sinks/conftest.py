"""Fixtures for the sinks tests: a real Kafka broker, per-test topics, and a
second process that holds an embedded store folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from driftline.config import LOADER_ROLES
from infra.kafka import create_topics
from infra.topics import topic_names


@pytest.fixture(scope="session")
def sinks_kafka(kafka_bootstrap: str) -> str:
    """The session's real broker (tests/conftest.py)."""
    return kafka_bootstrap


@pytest.fixture
def loader_topics(sinks_kafka: str) -> dict[str, str]:
    """Role → topic for every topic the loader reads, unique to this test."""
    names = topic_names(suffix=f"sinks{uuid.uuid4().hex[:10]}")
    topics = {role: names[role] for role in LOADER_ROLES}
    create_topics(sinks_kafka, list(topics.values()), partitions=2)
    return topics


def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """Partition → committed offset of ``group_id`` on ``topic`` (-1001: none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    try:
        parts = [TopicPartition(topic, p) for p in range(2)]
        return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, count: int, timeout_s: float = 20) -> list:
    """Read ``count`` messages from the start of ``topic`` (fewer on timeout)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found = []
    try:
        import time

        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                found.append(msg)
    finally:
        consumer.close()
    return found


_HOLDER = textwrap.dedent(
    """
    import sys
    import clickhouse_connect
    client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
    client.query("SELECT 1")
    print("holding", flush=True)
    sys.stdin.read()
    client.close()
    """
)


@pytest.fixture
def hold_store() -> Iterator[Callable[[Path], subprocess.Popen]]:
    """Start a second process that opens an embedded store folder and keeps it
    until its stdin closes; every holder is released at teardown."""
    holders: list[subprocess.Popen] = []

    def hold(folder: Path) -> subprocess.Popen:
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "holding"
        return proc

    yield hold
    for proc in holders:
        release(proc)


def release(proc: subprocess.Popen) -> None:
    """Let a holder close its store and exit."""
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def pipeline_store(sinks_kafka: str, tmp_path_factory):
    """An embedded store filled by one real pipeline run (pipeline_support)."""
    from pipeline_support import fill_store

    return fill_store(sinks_kafka, tmp_path_factory.mktemp("pipeline-store"))
