"""End to end on real services: the simulator through the OTel exporter into a
real broker, the latency job on PyFlink's mini-cluster, the loader into an
embedded ClickHouse store.

Each scenario runs the job once in bounded mode (it reads what the topic held
at start and stops), then the tests read the output topics and the store.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from pipeline_support import read_topic, run_job

from driftline.config import loader_topics
from producers import SimulationConfig, SimulationReport
from producers import run as simulate
from schemas import DEADLETTER, ROLLBACK, SIGNAL
from sinks.loader import Loader

HEADERS = [("dl.model", b"ranker"), ("dl.version", b"v1"), ("dl.shard", b"s00")]


@dataclass
class PipelineRun:
    topics: dict[str, str]
    report: SimulationReport
    signals: list[dict[str, Any]]
    rollbacks: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    injected: dict[str, tuple[int, bytes]]
    store_rows: dict[str, int]
    fleet_windows: list[tuple]


def run_pipeline(
    bootstrap: str, topics: dict[str, str], scenario: str, store: Path
) -> PipelineRun:
    start_ms = int(time.time() * 1000) - 120_000
    injected: dict[str, tuple[int, bytes]] = {}
    producer = Producer({"bootstrap.servers": bootstrap})
    # Before the fleet's spans, but with event times inside the run: a value
    # that is not a span (with valid routing headers) and one with no headers.
    injected["undecodable"] = (start_ms + 20_000, b"\x07not-a-span")
    injected["missing-headers"] = (start_ms + 20_000, b"\x07no-headers")
    producer.produce(
        topics["spans"],
        key=b"bad-replica",
        value=injected["undecodable"][1],
        headers=HEADERS,
        timestamp=injected["undecodable"][0],
    )
    producer.produce(
        topics["spans"],
        key=b"bad-replica",
        value=injected["missing-headers"][1],
        timestamp=injected["missing-headers"][0],
    )
    producer.flush(10)
    report = simulate(
        SimulationConfig(
            scenario=scenario,
            replicas=40,
            shards=4,
            rate_per_s=2000.0,
            duration_s=60.0,
            seed=11,
            rollout_at_s=10.0,
            start_ms=start_ms,
        ),
        bootstrap,
        topic=topics["spans"],
    )
    # After everything else, with an event time the watermark has long passed.
    injected["late"] = (start_ms + 5_000, b"\x07late-span")
    producer.produce(
        topics["spans"],
        key=b"late-replica",
        value=injected["late"][1],
        headers=HEADERS,
        timestamp=injected["late"][0],
    )
    producer.flush(10)

    run_job(bootstrap, topics)
    loader = Loader(
        bootstrap,
        f"chdb://{store}",
        topics=loader_topics(topics),
        group_id=f"test-loader-{uuid.uuid4().hex[:8]}",
        batch_ms=200,
    )
    try:
        loader.run_until_idle(3.0, timeout_s=60.0)
        client = loader.store
        store_rows = {
            table: int(client.command(f"SELECT count() FROM {table} FINAL"))
            for table in ("latency_windows", "rollback_events", "dead_letters")
        }
        fleet_windows = client.query(
            "SELECT version, count(), min(n) FROM latency_windows FINAL "
            "WHERE kind = 'latency.fleet' GROUP BY version ORDER BY version"
        ).result_rows
    finally:
        loader.close()
    return PipelineRun(
        topics=topics,
        report=report,
        signals=read_topic(bootstrap, topics["signals"], SIGNAL),
        rollbacks=read_topic(bootstrap, topics["rollbacks"], ROLLBACK),
        dead_letters=read_topic(bootstrap, topics["deadletter"], DEADLETTER),
        injected=injected,
        store_rows=store_rows,
        fleet_windows=fleet_windows,
    )


@pytest.fixture(scope="module")
def regression(kafka_bootstrap, make_topics, tmp_path_factory) -> PipelineRun:
    return run_pipeline(
        kafka_bootstrap,
        make_topics(),
        "tail-regression",
        tmp_path_factory.mktemp("regression-store"),
    )


@pytest.fixture(scope="module")
def steady(kafka_bootstrap, make_topics, tmp_path_factory) -> PipelineRun:
    return run_pipeline(
        kafka_bootstrap,
        make_topics(),
        "steady",
        tmp_path_factory.mktemp("steady-store"),
    )


def test_a_steady_rollout_produces_no_rollback(steady: PipelineRun) -> None:
    assert steady.rollbacks == []
    assert not any(s["latency"]["breach"] for s in steady.signals if s["latency"])
    assert {s["version"] for s in steady.signals} == {"v1", "v2"}


def test_a_tail_regression_produces_exactly_one_rollback(
    regression: PipelineRun,
) -> None:
    assert len(regression.rollbacks) == 1
    event = regression.rollbacks[0]
    assert event["model"] == "ranker"
    assert event["from_version"] == "v2"
    assert event["to_version"] == "v1"
    assert event["windows_breached"] >= 3


def test_the_rollback_names_the_slow_shards_with_their_p99(
    regression: PipelineRun,
) -> None:
    event = regression.rollbacks[0]
    shard_evidence = [e for e in event["evidence"] if e["shard"]]
    assert shard_evidence, event["evidence"]
    assert {e["shard"] for e in shard_evidence} <= set(regression.report.slow_shards)
    for item in shard_evidence:
        assert item["value"] > item["threshold"] * item["baseline_value"]
    healthy = set(regression.report.replica_shards.values()) - set(
        regression.report.slow_shards
    )
    assert not {e["shard"] for e in shard_evidence} & healthy


def test_each_malformed_span_lands_in_the_dead_letter_topic_with_its_bytes(
    regression: PipelineRun,
) -> None:
    by_reason = {d["reason"]: d for d in regression.dead_letters}
    assert set(by_reason) == {"undecodable", "missing-headers", "late"}
    for reason, (timestamp_ms, payload) in regression.injected.items():
        letter = by_reason[reason]
        assert letter["payload"] == payload
        assert letter["source_topic"] == regression.topics["spans"]
        assert letter["record_timestamp_ms"] == timestamp_ms
        assert letter["detail"]


def test_windows_after_a_malformed_span_are_still_produced(
    regression: PipelineRun,
) -> None:
    bad_ms = regression.injected["undecodable"][0]
    later = [
        s
        for s in regression.signals
        if s["kind"] == "latency.fleet" and s["window_start_ms"] > bad_ms
    ]
    assert len({s["window_start_ms"] for s in later}) >= 6


def test_the_store_holds_every_window_and_the_event(regression: PipelineRun) -> None:
    assert regression.store_rows["latency_windows"] == len(
        {s["signal_id"] for s in regression.signals if s["latency"]}
    )
    assert regression.store_rows["rollback_events"] == 1
    assert regression.store_rows["dead_letters"] == 3
    versions = [row[0] for row in regression.fleet_windows]
    assert versions == ["v1", "v2"]
