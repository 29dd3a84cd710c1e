"""A simulated fleet's feature samples and rollout announcement on a real
broker: what lands is exactly what `feature_frame` says, and fast enough for
the drift benchmark."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from driftline.errors import ConfigError
from producers import (
    FEATURE_DRIFT,
    NO_DRIFT,
    STALLED_ROLLOUT,
    SimulationConfig,
    feature_frame,
    run,
)
from schemas import DEPLOYMENT, FEATURE_SAMPLE

START_MS = 1_700_000_000_000


class CountingSpans(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def test_a_feature_drift_run_lands_on_kafka_exactly_as_the_frame_says(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    config = SimulationConfig(
        scenario=FEATURE_DRIFT,
        rate_per_s=200.0,
        feature_rate_per_s=1_000.0,
        duration_s=5.0,
        seed=11,
        start_ms=START_MS,
        announce=True,
    )

    report = run(
        config,
        kafka_bootstrap,
        topics["spans"],
        feature_topic=topics["features"],
        deployment_topic=topics["deployments"],
    )
    messages = read_topic(topics["features"], report.feature_samples_sent)
    [announcement] = read_topic(topics["deployments"], 1)
    expected = feature_frame(config).set_index("timestamp_ms", drop=False)

    assert report.feature_samples_sent == len(messages) == 5_000
    assert report.feature_samples_dropped == report.feature_samples_failed == 0
    assert report.planted_features == ("f03", "f11")
    assert report.spans_sent == 1_000 and report.slow_replicas == ()
    records = [FEATURE_SAMPLE.decode(m.value()) for m in messages]
    versions = Counter(dict(m.headers() or [])["dl.version"].decode() for m in messages)
    assert versions == Counter(report.feature_samples_per_version)
    for message, record in zip(messages, records, strict=True):
        headers = dict(message.headers() or [])
        assert message.key() == record["replica"].encode()
        assert message.timestamp()[1] == record["timestamp_ms"]
        assert headers["dl.shard"].decode() == record["shard"]
        assert headers["dl.mode"] == (
            b"canary" if record["version"] == "v2" else b"primary"
        )
    by_id = {r["sample_id"]: r for r in records}
    for i in range(0, 5_000, 97):
        row = expected.iloc[i]
        record = by_id[f"ranker-11-{i}"]
        assert record["timestamp_ms"] == row.timestamp_ms
        assert record["replica"] == row.replica and record["version"] == row.version
        assert record["numeric"]["f03"] == row.f03
        assert record["categorical"]["c1"] == row.c1
        assert math.isclose(record["prediction"], row.prediction)
    assert DEPLOYMENT.decode(announcement.value()) == report.announcement
    assert report.announcement is not None
    assert report.announcement["target_replicas"] == len(report.candidate_replicas)
    assert report.announcement["started_ms"] == report.rollout_ms
    assert announcement.key() == b"ranker"


def test_a_stalled_rollout_announces_the_whole_fleet_as_its_target(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    config = SimulationConfig(
        scenario=STALLED_ROLLOUT,
        rate_per_s=200.0,
        duration_s=5.0,
        start_ms=START_MS,
        announce=True,
    )

    report = run(
        config,
        kafka_bootstrap,
        topics["spans"],
        feature_topic=topics["features"],
        deployment_topic=topics["deployments"],
    )
    [announcement] = read_topic(topics["deployments"], 1)

    assert DEPLOYMENT.decode(announcement.value())["target_replicas"] == 40
    assert len(report.candidate_replicas) == 12 == len(report.rollout_ms_by_replica)
    assert report.target_replicas == 40
    assert report.planted_features == ()


def test_a_large_feature_backfill_delivers_every_sample_without_drops(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    config = SimulationConfig(
        scenario=NO_DRIFT,
        replicas=64,
        shards=16,
        rate_per_s=100.0,
        feature_rate_per_s=20_000.0,
        duration_s=5.0,
        start_ms=START_MS,
    )

    report = run(
        config,
        CountingSpans(),
        bootstrap_servers=kafka_bootstrap,
        feature_topic=topics["features"],
    )
    assert report.feature_samples_sent == 100_000
    assert report.feature_samples_dropped == report.feature_samples_failed == 0


def test_features_without_kafka_to_send_them_to_are_a_config_error() -> None:
    config = SimulationConfig(scenario=NO_DRIFT, duration_s=1.0)

    with pytest.raises(ConfigError, match="needs Kafka bootstrap servers"):
        run(config, CountingSpans())


def test_latency_scenarios_send_no_features_unless_asked(
    kafka_bootstrap: str, topics: dict[str, str], read_topic
) -> None:
    plain = run(
        SimulationConfig(rate_per_s=500.0, duration_s=1.0, start_ms=START_MS),
        CountingSpans(),
    )
    asked = run(
        SimulationConfig(
            rate_per_s=500.0, duration_s=1.0, start_ms=START_MS, features=True
        ),
        CountingSpans(),
        bootstrap_servers=kafka_bootstrap,
        feature_topic=topics["features"],
    )

    assert plain.feature_samples_sent == 0 and plain.planted_features == ()
    assert asked.feature_samples_sent == 500
    assert len(read_topic(topics["features"], 500)) == 500
