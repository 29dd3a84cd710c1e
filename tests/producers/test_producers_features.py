"""FeatureLogger: the message contract on a real broker, sampling, missing
values, and back-pressure against a broker that cannot be reached."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME

from driftline.errors import ConfigError
from producers import FeatureLogger
from schemas import FEATURE_SAMPLE

T0_MS = 1_700_000_000_000


def make_logger(bootstrap: str, topic: str, **overrides: object) -> FeatureLogger:
    settings: dict[str, object] = {
        "model": "ranker",
        "version": "v2",
        "replica": "ranker-007",
        "shard": "s03",
        "mode": "canary",
        "topic": topic,
    }
    settings.update(overrides)
    return FeatureLogger(bootstrap, **settings)  # type: ignore[arg-type]


@pytest.fixture
def stalled_logger(unreachable_bootstrap: str) -> Iterator[FeatureLogger]:
    features = make_logger(unreachable_bootstrap, "features", max_buffered=10)
    yield features
    features.close(timeout_s=0)


def test_samples_reach_kafka_keyed_by_replica_stamped_and_routed_by_headers(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    features = make_logger(kafka_bootstrap, topics["features"])

    queued = features.log(
        {"f00": 1.5, "f01": -2.0},
        {"c0": "red"},
        prediction=0.75,
        prediction_label="buy",
        timestamp_ms=T0_MS + 42,
        sample_id="trace-1",
    )
    assert features.flush(10.0)
    [message] = read_topic(topics["features"], 1)

    assert queued is True
    assert message.key() == b"ranker-007"
    assert message.timestamp() == (TIMESTAMP_CREATE_TIME, T0_MS + 42)
    assert dict(message.headers() or []) == {
        "dl.model": b"ranker",
        "dl.version": b"v2",
        "dl.shard": b"s03",
        "dl.mode": b"canary",
    }
    assert FEATURE_SAMPLE.decode(message.value()) == {
        "sample_id": "trace-1",
        "timestamp_ms": T0_MS + 42,
        "model": "ranker",
        "version": "v2",
        "replica": "ranker-007",
        "shard": "s03",
        "mode": "canary",
        "numeric": {"f00": 1.5, "f01": -2.0},
        "categorical": {"c0": "red"},
        "prediction": 0.75,
        "prediction_label": "buy",
    }
    features.close(5.0)
    assert features.stats() == {
        "sampled": 1,
        "skipped_by_rate": 0,
        "dropped": 0,
        "failed": 0,
        "buffered": 0,
    }


def test_missing_values_round_trip_as_null(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    features = make_logger(kafka_bootstrap, topics["features"])

    features.log(
        {"none": None, "nan": math.nan, "inf": -math.inf, "ok": 3},
        {"none": None, "ok": "a"},
        prediction=math.nan,
        timestamp_ms=T0_MS,
    )
    features.close(10.0)
    [message] = read_topic(topics["features"], 1)
    record = FEATURE_SAMPLE.decode(message.value())

    assert record["numeric"] == {"none": None, "nan": None, "inf": None, "ok": 3.0}
    assert record["categorical"] == {"none": None, "ok": "a"}
    assert record["prediction"] is None
    assert record["prediction_label"] is None


def test_the_sample_rate_is_honoured_within_binomial_tolerance(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    calls, rate = 20_000, 0.2
    features = make_logger(
        kafka_bootstrap, topics["features"], sample_rate=rate, seed=5
    )

    results = [features.log({"x": float(i)}, timestamp_ms=T0_MS) for i in range(calls)]
    features.close(10.0)
    messages = read_topic(topics["features"], features.sampled)

    # Four standard deviations of Binomial(calls, rate): a false alarm is
    # rarer than 1e-4, and the seed makes the count fixed anyway.
    tolerance = 4 * math.sqrt(calls * rate * (1 - rate))
    assert abs(features.sampled - calls * rate) < tolerance
    assert features.sampled + features.skipped_by_rate == calls
    assert sum(results) == features.sampled == len(messages)


def test_the_same_seed_samples_the_same_calls() -> None:
    class Stub:  # the choice is made before any Kafka call; nothing is sent
        def produce(self, *args: object, **kwargs: object) -> None: ...
        def poll(self, timeout: float = 0) -> int:
            return 0

        def flush(self, timeout: float = 0) -> int:
            return 0

        def __len__(self) -> int:
            return 0

    def choices(seed: int) -> list[bool]:
        features = make_logger(
            None,
            "t",
            sample_rate=0.5,
            seed=seed,
            producer=Stub(),  # type: ignore[arg-type]
        )
        return [features.log({"x": 1.0}) for _ in range(200)]

    assert choices(1) == choices(1)
    assert choices(1) != choices(2)


def test_a_full_buffer_drops_and_counts_without_blocking(
    stalled_logger: FeatureLogger, caplog: pytest.LogCaptureFixture
) -> None:
    started_s = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="producers.features"):
        results = [stalled_logger.log({"x": 1.0}, {"c": "a"}) for _ in range(1_000)]
    elapsed_s = time.monotonic() - started_s

    assert elapsed_s < 1.0
    assert sum(results) == stalled_logger.sampled == 10
    assert stalled_logger.dropped == 990
    lost = [r for r in caplog.records if "feature samples lost" in r.getMessage()]
    assert len(lost) == 1  # rate-limited: one line, not one per sample
    assert "topic=features" in lost[0].getMessage()


def test_closing_purges_what_never_left_and_counts_it_as_failed(
    unreachable_bootstrap: str,
) -> None:
    features = make_logger(unreachable_bootstrap, "features", max_buffered=10)
    for _ in range(5):
        features.log({"x": 1.0})

    features.close(timeout_s=0)

    assert features.failed == 5
    assert features.log({"x": 1.0}) is False
    assert features.dropped == 1


def test_a_value_that_cannot_be_encoded_costs_one_sample_not_the_request(
    stalled_logger: FeatureLogger,
) -> None:
    assert stalled_logger.log({"x": "not a number"}) is False  # type: ignore[dict-item]
    assert stalled_logger.log({"x": 1.0}, {"c": 7}) is False  # type: ignore[dict-item]
    assert stalled_logger.dropped == 2
    assert stalled_logger.log({"x": 1.0}) is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sample_rate": 0.0}, "sample_rate must be in (0, 1], got 0.0"),
        ({"sample_rate": 1.5}, "sample_rate must be in (0, 1], got 1.5"),
        ({"mode": "blue"}, "mode must be one of primary, canary, shadow"),
        ({"replica": ""}, "replica must not be empty"),
        ({"max_buffered": 0}, "max_buffered must be at least 1, got 0"),
        (
            {"producer_config": {"bootstrap.servers": "x:1"}},
            "producer_config must not set ['bootstrap.servers']",
        ),
    ],
)
def test_a_bad_argument_raises_a_config_error_naming_it(
    unreachable_bootstrap: str, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_logger(unreachable_bootstrap, "features", **overrides)

    assert message in str(raised.value)
