"""Tests for the test-session Kafka helper (infra.services)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from infra import services
from infra.kafka import broker_answers


def test_a_named_cluster_is_used_as_is_and_never_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(services.BOOTSTRAP_ENV, "kafka.example:9092")

    with services.kafka_for_tests() as kafka:
        assert (kafka.bootstrap, kafka.kind) == ("kafka.example:9092", "external")


def test_docker_check_answers_quickly_without_raising() -> None:
    started = time.monotonic()

    assert services.docker_available(timeout_s=1.0) in (True, False)
    assert time.monotonic() - started < 5


def test_without_docker_a_local_broker_is_started_and_cleaned_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(services.BOOTSTRAP_ENV, raising=False)
    monkeypatch.setattr(services, "docker_available", lambda timeout_s=2.0: False)

    kafka = services.kafka_for_tests(heap_mb=256)
    try:
        assert kafka.kind == "local"
        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        assert producer.list_topics(timeout=10).brokers
        assert kafka.home is not None and (kafka.home / "kafka" / "broker.log").exists()
    finally:
        kafka.stop()

    assert not broker_answers(kafka.bootstrap, timeout_s=1.0)
    assert not kafka.home.exists()
    kafka.stop()  # a second stop is harmless
