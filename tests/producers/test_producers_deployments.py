"""announce(): a rollout announcement round-trips through a real broker, and a
broker that never acknowledges it is an error, not a silent loss."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME

from driftline.errors import ConfigError, DriftlineError
from producers import AnnouncementError, announce
from schemas import DEPLOYMENT

STARTED_MS = 1_700_000_123_456


def test_an_announcement_lands_keyed_by_model_and_stamped_with_its_start(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    record = announce(
        kafka_bootstrap,
        model="ranker",
        version="v2",
        replaces="v1",
        started_ms=STARTED_MS,
        target_replicas=10,
        announced_by="test",
        topic=topics["deployments"],
    )
    [message] = read_topic(topics["deployments"], 1)

    assert message.key() == b"ranker"
    assert message.timestamp() == (TIMESTAMP_CREATE_TIME, STARTED_MS)
    assert (
        DEPLOYMENT.decode(message.value())
        == record
        == {
            "model": "ranker",
            "version": "v2",
            "replaces": "v1",
            "started_ms": STARTED_MS,
            "target_replicas": 10,
            "mode": "canary",
            "announced_by": "test",
        }
    )


def test_an_announcement_nobody_acknowledges_raises_within_the_timeout(
    unreachable_bootstrap: str,
) -> None:
    started_s = time.monotonic()
    with pytest.raises(AnnouncementError) as raised:
        announce(
            unreachable_bootstrap,
            model="ranker",
            version="v2",
            replaces="v1",
            target_replicas=10,
            timeout_s=1.0,
        )

    assert time.monotonic() - started_s < 5.0
    assert isinstance(raised.value, DriftlineError)
    assert "did not acknowledge the rollout of 'ranker' 'v2'" in str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"version": "v1"}, "version must differ from replaces, got 'v1'"),
        ({"target_replicas": 0}, "target_replicas must be at least 1, got 0"),
        ({"mode": "big-bang"}, "mode must be one of canary, rollout, shadow"),
        ({"model": ""}, "model must not be empty"),
    ],
)
def test_a_bad_announcement_raises_a_config_error_naming_the_argument(
    unreachable_bootstrap: str, overrides: dict[str, object], message: str
) -> None:
    settings: dict[str, object] = {
        "model": "ranker",
        "version": "v2",
        "replaces": "v1",
        "target_replicas": 10,
    }
    settings.update(overrides)

    with pytest.raises(ConfigError) as raised:
        announce(unreachable_bootstrap, **settings)  # type: ignore[arg-type]

    assert message in str(raised.value)
