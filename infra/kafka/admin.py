"""Talking to a running broker: wait until it answers, create topics.

Works against any Kafka bootstrap (the local broker, a testcontainer, a real
cluster); security settings for a real cluster pass through ``client_config``
untouched and are never logged. librdkafka's own log lines are routed to this
module's logger instead of stderr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from driftline.errors import ServiceError
from infra.topics import TopicSpec

logger = logging.getLogger(__name__)


def admin_client(
    bootstrap: str, client_config: Mapping[str, Any] | None = None
) -> AdminClient:
    """Return an AdminClient for ``bootstrap`` that logs through `logging`.

    Args:
        bootstrap: ``host:port[,host:port...]``.
        client_config: Extra librdkafka settings (SASL, TLS, ...).
    """
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": logger}
    config.update(client_config or {})
    return AdminClient(config)


def broker_answers(
    bootstrap: str,
    timeout_s: float = 2.0,
    client_config: Mapping[str, Any] | None = None,
) -> bool:
    """Return True when a broker at ``bootstrap`` returns cluster metadata.

    Never raises for an unreachable or half-started broker; that is False.
    """
    try:
        metadata = admin_client(bootstrap, client_config).list_topics(timeout=timeout_s)
    except KafkaException:
        return False
    return bool(metadata.brokers)


def create_topics(
    bootstrap: str,
    topics: Mapping[str, TopicSpec] | Iterable[str],
    partitions: int = 4,
    config: Mapping[str, str] | None = None,
    *,
    timeout_s: float = 30.0,
    client_config: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create topics that do not exist yet and wait until all of them do.

    Idempotent: a topic that already exists is left as it is (its partition
    count and config are not changed), and calling this twice is harmless.

    Args:
        bootstrap: ``host:port`` of the cluster.
        topics: Name → `TopicSpec` (e.g. `infra.topics.default_specs`), or
            plain names, which get ``partitions`` and ``config``.
        partitions: Partition count for plain names.
        config: Topic config for plain names.
        timeout_s: Overall deadline for creation and for the topics to show up
            in the cluster's metadata.
        client_config: Extra librdkafka settings for a secured cluster.

    Returns:
        The names that this call created (empty when all existed).

    Raises:
        ServiceError: The broker refused a topic or the deadline passed.
    """
    specs = _as_specs(topics, partitions, config)
    if not specs:
        return []
    deadline = time.monotonic() + timeout_s
    admin = admin_client(bootstrap, client_config)
    new_topics = [
        NewTopic(
            name,
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(spec.config),
        )
        for name, spec in specs.items()
    ]
    futures = admin.create_topics(
        new_topics, operation_timeout=timeout_s, request_timeout=timeout_s
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=max(deadline - time.monotonic(), 0.1))
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and (
                error.code() == KafkaError.TOPIC_ALREADY_EXISTS
            ):
                continue
            raise ServiceError(
                f"creating topic {name!r} on {bootstrap} failed: {error}"
            ) from exc
        except TimeoutError as exc:
            raise ServiceError(
                f"creating topic {name!r} on {bootstrap} did not finish "
                f"within {timeout_s} s"
            ) from exc
        created.append(name)

    _wait_for_metadata(admin, set(specs), deadline, bootstrap)
    if created:
        logger.info("created topics %s on %s", ", ".join(sorted(created)), bootstrap)
    return created


def _as_specs(
    topics: Mapping[str, TopicSpec] | Iterable[str],
    partitions: int,
    config: Mapping[str, str] | None,
) -> dict[str, TopicSpec]:
    if isinstance(topics, Mapping):
        return dict(topics)
    if isinstance(topics, str):  # one name, not its characters
        topics = [topics]
    plain = TopicSpec(partitions=partitions, config=dict(config or {}))
    return {name: plain for name in topics}


def _wait_for_metadata(
    admin: AdminClient, names: set[str], deadline: float, bootstrap: str
) -> None:
    missing = set(names)
    while True:
        try:
            metadata = admin.list_topics(timeout=max(deadline - time.monotonic(), 0.1))
        except KafkaException:
            metadata = None
        if metadata is not None:
            missing = {
                name
                for name in names
                if name not in metadata.topics
                or metadata.topics[name].error is not None
                or not metadata.topics[name].partitions
            }
            if not missing:
                return
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"topics {sorted(missing)!r} did not appear on {bootstrap} in time"
            )
        time.sleep(0.1)
