"""Tests for the local Kafka broker (infra.kafka) against a real broker.

One broker per module serves most tests; tests of starting and stopping use
their own home folders. Topic names carry a per-test suffix.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from driftline.errors import PrerequisiteError, ServiceError
from infra.kafka import LocalKafka, admin_client, create_topics
from infra.ports import free_port
from infra.topics import default_specs, topic_names


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] != "Z"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    kafka = LocalKafka(tmp_path_factory.mktemp("kafka-home"), heap_mb=384)
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


def test_a_message_makes_the_round_trip(broker: LocalKafka, suffix: str) -> None:
    bootstrap = broker.bootstrap
    assert bootstrap is not None
    topic = topic_names(suffix=suffix)["spans"]
    create_topics(bootstrap, [topic], partitions=2)

    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=b"replica-7", value=b"span bytes")
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"round-trip-{suffix}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        message = None
        deadline = time.monotonic() + 20
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
    finally:
        consumer.close()

    assert message is not None and message.error() is None
    assert (message.key(), message.value()) == (b"replica-7", b"span bytes")


def test_starting_a_running_broker_returns_its_bootstrap(broker: LocalKafka) -> None:
    pid, bootstrap = broker.pid, broker.bootstrap

    assert broker.start() == bootstrap
    assert broker.pid == pid


def test_another_handle_on_the_same_home_finds_the_broker(broker: LocalKafka) -> None:
    status = LocalKafka(broker.home).status()

    assert status.running and status.pid == broker.pid
    assert status.bootstrap == broker.bootstrap


def test_asking_a_running_broker_for_another_port_is_refused(
    broker: LocalKafka,
) -> None:
    with pytest.raises(PrerequisiteError, match="already runs on port"):
        broker.start(port=free_port())


def test_a_port_in_use_is_named_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(PrerequisiteError) as raised:
            LocalKafka(tmp_path).start(port=port)

    assert str(raised.value) == (
        f"port {port} on 127.0.0.1 is already in use; stop whatever holds it or "
        "pass another port."
    )


def test_create_topics_is_idempotent(broker: LocalKafka, suffix: str) -> None:
    bootstrap = broker.bootstrap
    assert bootstrap is not None
    specs = default_specs(suffix=suffix)

    first = create_topics(bootstrap, specs)
    second = create_topics(bootstrap, specs)

    assert sorted(first) == sorted(specs) and second == []
    metadata = admin_client(bootstrap).list_topics(timeout=10)
    for name, spec in specs.items():
        assert len(metadata.topics[name].partitions) == spec.partitions


def test_create_topics_applies_compaction(broker: LocalKafka, suffix: str) -> None:
    from confluent_kafka.admin import ConfigResource, ResourceType

    bootstrap = broker.bootstrap
    assert bootstrap is not None
    profiles = topic_names(suffix=suffix)["profiles"]
    create_topics(bootstrap, {profiles: default_specs(suffix=suffix)[profiles]})

    resource = ConfigResource(ResourceType.TOPIC, profiles)
    admin = admin_client(bootstrap)  # must outlive the future
    described = admin.describe_configs([resource])[resource].result(10)
    assert described["cleanup.policy"].value == "compact"


def test_a_broker_started_by_a_process_that_exited_is_stopped_by_another(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    starter = (
        "import sys; from infra.kafka import LocalKafka; "
        "print(LocalKafka(sys.argv[1], heap_mb=256).start())"
    )
    result = subprocess.run(
        [sys.executable, "-c", starter, str(home)],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    kafka = LocalKafka(home)
    pid = kafka.pid
    assert pid is not None and kafka.bootstrap == result.stdout.strip()

    assert kafka.stop() is True

    assert not pid_alive(pid)
    assert not kafka.pid_path.exists() and kafka.status().running is False
    assert kafka.stop() is False


def test_a_broker_that_dies_while_starting_names_its_log(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, jvm_options=["-XX:+NoSuchDriftlineOption"])

    with pytest.raises(ServiceError) as raised:
        kafka.start()

    assert str(kafka.log_path) in str(raised.value)
    assert "NoSuchDriftlineOption" in str(raised.value)
    assert kafka.status().running is False


def test_a_broker_that_does_not_answer_in_time_is_killed(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, start_timeout_s=0.2)

    with pytest.raises(ServiceError, match="did not answer") as raised:
        kafka.start()

    assert str(kafka.log_path) in str(raised.value)
    assert kafka.status().running is False and not kafka.pid_path.exists()


def test_a_stale_pid_file_reads_as_not_running(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path)
    kafka.kafka_dir.mkdir(parents=True)
    kafka.pid_path.write_text(f"{os.getpid()}\n")

    assert kafka.status().running is False
    assert kafka.stop() is False
    assert not kafka.pid_path.exists()


def test_missing_java_is_reported_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(PrerequisiteError, match=r"^java was not found on PATH;"):
        LocalKafka(tmp_path / "home").start()
