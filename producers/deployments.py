"""Rollout announcements: what a deploy controller tells driftline.

A deploy controller calls `announce` when it starts rolling a candidate
version out. The drift and latency jobs hold the latest announcement per model
as broadcast state: it names the baseline to compare against (``replaces``)
and how many replicas should end up on the candidate, so a rollout that stops
half-way is visible.

Message contract (do not change it):

* topic: ``driftline.deployments``, compacted, so the latest announcement per
  model is the current rollout;
* key: the model, UTF-8;
* timestamp: ``started_ms``;
* value: the schemaless Avro ``Deployment`` record
  (``schemas/deployment.avsc``).

Unlike the telemetry writers, `announce` is not on a request path: it waits
for the broker's acknowledgement and raises `AnnouncementError` when there is
none within the timeout, since a controller that believes it announced a
rollout nobody heard of would leave the jobs comparing the wrong versions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from driftline.errors import ConfigError, ServiceError
from producers.nonblocking import LIBRDKAFKA_LOGGER
from schemas import DEPLOYMENT

logger = logging.getLogger(__name__)

DEFAULT_TOPIC = "driftline.deployments"
MODES = ("canary", "rollout", "shadow")

# An announcement must be durable once acknowledged; a caller's
# producer_config may still override these.
_PRODUCER_DEFAULTS: dict[str, Any] = {"acks": "all", "enable.idempotence": True}


def _on_client_error(err: KafkaError) -> None:
    logger.debug("kafka producer error while announcing: %s", err)


class AnnouncementError(ServiceError):
    """A rollout announcement was not acknowledged by the broker in time."""


def announce(
    bootstrap: str,
    *,
    model: str,
    version: str,
    replaces: str,
    started_ms: int | None = None,
    target_replicas: int,
    mode: str = "canary",
    announced_by: str = "",
    topic: str = DEFAULT_TOPIC,
    producer_config: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Announce a rollout and wait until the broker has it.

    Args:
        bootstrap: Kafka bootstrap list, ``host:port[,host:port]``.
        model: the model being rolled out; the message key.
        version: the candidate version.
        replaces: the baseline version it replaces (the last known-good one).
        started_ms: rollout start, epoch ms; None means now.
        target_replicas: replicas that should run ``version`` once the
            rollout completes.
        mode: ``canary``, ``rollout`` or ``shadow``.
        announced_by: who announced it (a controller's name), free text.
        topic: the deployments topic.
        producer_config: extra librdkafka settings, never logged.
        timeout_s: longest wait for the acknowledgement.

    Returns:
        The ``Deployment`` record as sent.

    Raises:
        ConfigError: an argument is empty or out of range; the message names
            it.
        AnnouncementError: the broker did not acknowledge the announcement
            within ``timeout_s``, or rejected it.
    """
    for name, value in (
        ("model", model),
        ("version", version),
        ("replaces", replaces),
        ("topic", topic),
    ):
        if not value:
            raise ConfigError(f"{name} must not be empty, got {value!r}")
    if version == replaces:
        raise ConfigError(f"version must differ from replaces, got {version!r}")
    if target_replicas < 1:
        raise ConfigError(
            f"target_replicas must be at least 1, got {target_replicas!r}"
        )
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if started_ms is None:
        started_ms = time.time_ns() // 1_000_000
    if started_ms < 0:
        raise ConfigError(f"started_ms must not be negative, got {started_ms!r}")
    record: dict[str, Any] = {
        "model": model,
        "version": version,
        "replaces": replaces,
        "started_ms": started_ms,
        "target_replicas": target_replicas,
        "mode": mode,
        "announced_by": announced_by,
    }
    payload = DEPLOYMENT.encode(record)

    config: dict[str, Any] = dict(_PRODUCER_DEFAULTS)
    config.update(producer_config or {})
    config["bootstrap.servers"] = bootstrap
    config["message.timeout.ms"] = max(1, round(timeout_s * 1000))
    config.setdefault("logger", LIBRDKAFKA_LOGGER)
    # Connection failures surface as the delivery error below.
    config.setdefault("error_cb", _on_client_error)
    try:
        producer = Producer(config)
    except KafkaException as exc:
        raise ConfigError(f"bad Kafka producer setting: {exc}") from exc
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    producer.produce(
        topic,
        value=payload,
        key=model.encode(),
        timestamp=started_ms,
        on_delivery=on_delivery,
    )
    remaining = producer.flush(timeout_s)
    if remaining:
        producer.purge(in_queue=True, in_flight=True)
        producer.flush(0)
    timed_out = [e for e in errors if e.code() == KafkaError._MSG_TIMED_OUT]
    if remaining or timed_out:
        raise AnnouncementError(
            f"the broker at {bootstrap!r} did not acknowledge the rollout of "
            f"{model!r} {version!r} on topic {topic!r} within {timeout_s:g} s"
        )
    if errors:
        raise AnnouncementError(
            f"the broker at {bootstrap!r} rejected the rollout of {model!r} "
            f"{version!r} on topic {topic!r}: {errors[0].str()}"
        )
    logger.info(
        "rollout announced topic=%s model=%s version=%s replaces=%s "
        "target_replicas=%d mode=%s started_ms=%d",
        topic,
        model,
        version,
        replaces,
        target_replicas,
        mode,
        started_ms,
    )
    return record
