"""Fixtures for the producer tests.

Integration tests take a real broker from the ``kafka_bootstrap`` fixture. The
session-wide one belongs to ``tests/conftest.py``; until that file exists,
this module provides a stand-in that reads ``DRIFTLINE_KAFKA_BOOTSTRAP`` and
skips the test when it is not set. No test here fakes a broker.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP_ENV = "DRIFTLINE_KAFKA_BOOTSTRAP"

if not (Path(__file__).resolve().parents[1] / "conftest.py").exists():

    @pytest.fixture(scope="session")
    def kafka_bootstrap() -> str:
        """A running broker named by ``DRIFTLINE_KAFKA_BOOTSTRAP``."""
        bootstrap = os.environ.get(BOOTSTRAP_ENV)
        if not bootstrap:
            pytest.skip(f"needs a Kafka broker: set {BOOTSTRAP_ENV}=host:port")
        return bootstrap


@pytest.fixture
def unreachable_bootstrap() -> str:
    """A loopback port nothing listens on, so messages can never drain."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.fixture
def span_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A fresh single-partition topic for one test, deleted afterwards."""
    name = f"test.producers.spans.{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=1)])
    futures[name].result(timeout=30)
    yield name
    admin.delete_topics([name])[name].result(timeout=30)


ReadTopic = Callable[[str, int], list[Message]]


@pytest.fixture
def read_topic(kafka_bootstrap: str) -> ReadTopic:
    """``read_topic(topic, expected)``: the topic's messages from the start,
    until ``expected`` of them arrived or 30 s passed."""

    def read(topic: str, expected: int) -> list[Message]:
        return _consume(kafka_bootstrap, topic, expected, timeout_s=30.0)

    return read


def _consume(
    bootstrap: str, topic: str, expected: int, timeout_s: float
) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Message] = []
    try:
        deadline_s = time.monotonic() + timeout_s
        while len(messages) < expected and time.monotonic() < deadline_s:
            batch = consumer.consume(num_messages=10_000, timeout=0.5)
            for message in batch:
                error = message.error()
                assert error is None, error
                messages.append(message)
    finally:
        consumer.close()
    return messages
