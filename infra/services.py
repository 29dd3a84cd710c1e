"""A Kafka bootstrap for tests, from whatever this machine offers.

`kafka_for_tests` picks, in this order:

1. ``DRIFTLINE_KAFKA_BOOTSTRAP`` when set — an existing cluster, used as is
   and never stopped;
2. a Kafka testcontainer (KRaft) when a Docker engine answers a ping within
   two seconds;
3. otherwise an `infra.kafka.LocalKafka` broker in a fresh temporary home,
   removed again by `KafkaService.stop`.

Tests never fake a broker: each path yields a real one. A session fixture is
three lines::

    @pytest.fixture(scope="session")
    def kafka():
        service = kafka_for_tests()
        yield service
        service.stop()

Topics are not created here: each test creates its own (see
`infra.topics.default_specs` with a suffix).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from infra.kafka import LocalKafka

logger = logging.getLogger(__name__)

BOOTSTRAP_ENV = "DRIFTLINE_KAFKA_BOOTSTRAP"
CONTAINER_IMAGE = "confluentinc/cp-kafka:7.6.0"
"""Image for the testcontainer path; KRaft-capable and what testcontainers
configures best. The local path runs Kafka 4.1 from Maven Central instead."""

Kind = Literal["external", "container", "local"]


@dataclass
class KafkaService:
    """A Kafka bootstrap plus the way to give it back.

    Attributes:
        bootstrap: ``host:port`` for clients.
        kind: ``"external"`` (from the environment), ``"container"`` or
            ``"local"``.
        home: The temporary home of a local broker (its log is
            ``home/kafka/broker.log``), removed by `stop`; None otherwise.
    """

    bootstrap: str
    kind: Kind
    home: Path | None = None
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop what `kafka_for_tests` started; a no-op when called again or
        for an external cluster."""
        if self._stopped:
            return
        self._stopped = True
        self._stop()

    def __enter__(self) -> KafkaService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def docker_available(timeout_s: float = 2.0) -> bool:
    """Return True when a Docker engine answers a ping within ``timeout_s``.

    Never raises: a missing SDK, socket or daemon, or any other failure,
    reads as False.
    """
    try:
        import docker

        client = docker.from_env(timeout=max(int(timeout_s), 1))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception as exc:  # anything at all means "no usable engine"
        logger.debug("no Docker engine: %s", exc)
        return False


def kafka_for_tests(*, heap_mb: int = 512) -> KafkaService:
    """Return a running Kafka for a test session (see the module docstring).

    Args:
        heap_mb: ``-Xmx`` of a local broker; ignored on the other paths.

    Returns:
        A `KafkaService`; call `KafkaService.stop` (or use it as a context
        manager) when done. A local broker is also stopped at interpreter exit
        if the caller forgets.

    Raises:
        PrerequisiteError: The local path needs ``java`` (and ``mvn`` on an
            empty jar cache) and one is missing.
        ServiceError: The container or local broker did not come up.
    """
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        logger.info("using Kafka at %s from %s", external, BOOTSTRAP_ENV)
        return KafkaService(external, "external")
    if docker_available():
        return _container_kafka()
    return _local_kafka(heap_mb)


def _container_kafka() -> KafkaService:
    from testcontainers.community.kafka import KafkaContainer

    container: Any = (
        KafkaContainer(CONTAINER_IMAGE)
        .with_kraft()
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_NUM_PARTITIONS", "4")
    )
    container.start()
    bootstrap = container.get_bootstrap_server()
    logger.info("started Kafka testcontainer at %s", bootstrap)
    return KafkaService(bootstrap, "container", None, container.stop)


def _local_kafka(heap_mb: int) -> KafkaService:
    home = Path(tempfile.mkdtemp(prefix="driftline-kafka-"))
    broker = LocalKafka(home, heap_mb=heap_mb)

    def stop() -> None:
        atexit.unregister(stop)
        try:
            broker.stop()
        finally:
            shutil.rmtree(home, ignore_errors=True)

    atexit.register(stop)
    try:
        bootstrap = broker.start()
    except BaseException:
        stop()
        raise
    return KafkaService(bootstrap, "local", home, stop)
