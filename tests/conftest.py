"""Session-wide services for the test suite: one real Kafka broker, and a
factory for per-test topic sets.

The broker comes from `infra.services.kafka_for_tests`: the cluster named by
``DRIFTLINE_KAFKA_BOOTSTRAP`` when set, a testcontainer when a Docker engine
answers, else a local KRaft broker started from the cached Maven jars. Tests
never fake a broker. Each test asks `topics` for its own suffixed set, so no
two tests read each other's records.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.kafka import create_topics
from infra.services import KafkaService, kafka_for_tests
from infra.topics import default_specs, topic_names


@pytest.fixture(scope="session", autouse=True)
def driftline_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """State (job logs, Flink logs) of this session goes to a temporary home,
    never the user's ``~/.driftline``, unless ``DRIFTLINE_HOME`` names one."""
    if os.environ.get("DRIFTLINE_HOME"):
        yield Path(os.environ["DRIFTLINE_HOME"])
        return
    home = tmp_path_factory.mktemp("driftline-home")
    os.environ["DRIFTLINE_HOME"] = str(home)
    try:
        yield home
    finally:
        del os.environ["DRIFTLINE_HOME"]


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaService]:
    service = kafka_for_tests()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka: KafkaService) -> str:
    return kafka.bootstrap


TopicFactory = Callable[[], dict[str, str]]


@pytest.fixture(scope="session")
def make_topics(kafka_bootstrap: str) -> TopicFactory:
    """``make_topics()`` creates a fresh set of every driftline topic and
    returns role → name (``spans``, ``signals``, ``rollbacks``, ...)."""

    def make() -> dict[str, str]:
        suffix = f"t{uuid.uuid4().hex[:10]}"
        create_topics(kafka_bootstrap, default_specs(suffix=suffix))
        return topic_names(suffix=suffix)

    return make


@pytest.fixture
def topics(make_topics: TopicFactory) -> dict[str, str]:
    return make_topics()
