"""Feature drift end to end on real services: the simulator's feature samples
through a real broker, the whole job on PyFlink's mini-cluster, decisions read
back from the rollback topic.

Each scenario runs once, in bounded mode, over 60 simulated seconds of a
40-replica fleet whose candidate rolls out at 10 s (5-second windows).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer
from pipeline_support import read_topic, run_job

from driftline.profiles import build_profile, publish_profile
from jobs.guard import GuardPolicy
from jobs.rollout import RolloutPolicy
from producers import SimulationConfig, SimulationReport, reference_frame
from producers import run as simulate
from schemas import DEADLETTER, FEATURE_SAMPLE, ROLLBACK, SIGNAL

FEATURE_HEADERS = [("dl.model", b"ranker"), ("dl.version", b"v1"), ("dl.shard", b"s00")]


@dataclass
class DriftRun:
    report: SimulationReport
    signals: list[dict[str, Any]]
    rollbacks: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]


def drift_run(
    bootstrap: str,
    topics: dict[str, str],
    scenario: str,
    *,
    duration_s: float = 60.0,
    policy: GuardPolicy | None = None,
    before_job: Any = None,
    **overrides: Any,
) -> DriftRun:
    config = SimulationConfig(
        scenario=scenario,
        replicas=40,
        shards=4,
        rate_per_s=200.0,
        feature_rate_per_s=1600.0,
        duration_s=duration_s,
        seed=21,
        rollout_at_s=10.0,
        start_ms=int(time.time() * 1000) - 300_000,
        **overrides,
    )
    report = simulate(
        config,
        bootstrap,
        topic=topics["spans"],
        feature_topic=topics["features"],
        deployment_topic=topics["deployments"],
    )
    if before_job is not None:
        before_job(report)
    run_job(bootstrap, topics, policy)
    return DriftRun(
        report=report,
        signals=read_topic(bootstrap, topics["signals"], SIGNAL),
        rollbacks=read_topic(bootstrap, topics["rollbacks"], ROLLBACK),
        dead_letters=read_topic(bootstrap, topics["deadletter"], DEADLETTER),
    )


def evidence_features(event: dict[str, Any]) -> set[str]:
    return {item["feature"] for item in event["evidence"] if item["feature"]}


def test_feature_drift_rolls_back_naming_exactly_the_planted_features(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    run = drift_run(kafka_bootstrap, topics, "feature-drift")
    assert set(run.report.planted_features) == {"f03", "f11"}
    assert len(run.rollbacks) == 1
    event = run.rollbacks[0]
    assert (event["from_version"], event["to_version"]) == ("v2", "v1")
    assert evidence_features(event) == {"f03", "f11"}
    assert not any(item["shard"] for item in event["evidence"])


def test_categorical_drift_names_exactly_the_shifted_category(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    run = drift_run(kafka_bootstrap, topics, "categorical-drift")
    assert len(run.rollbacks) == 1
    assert evidence_features(run.rollbacks[0]) == {"c1"}


def test_gradual_drift_is_caught_once_large_and_names_only_planted_features(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    run = drift_run(kafka_bootstrap, topics, "gradual-drift", duration_s=90.0)
    assert len(run.rollbacks) == 1
    event = run.rollbacks[0]
    assert evidence_features(event) and evidence_features(event) <= {"f03", "f11"}
    # Never before the rollout: the baseline's own windows do not drift.
    assert event["first_breach_window_start_ms"] >= run.report.rollout_ms - 5_000


def test_no_drift_over_a_long_run_fires_nothing_and_reads_the_profile(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    def register_profile(report: SimulationReport) -> None:
        frame = reference_frame(21, 20_000)
        profile = build_profile(frame, model="ranker", version="v1", source="ref.csv")
        publish_profile(kafka_bootstrap, topics["profiles"], profile)

    run = drift_run(
        kafka_bootstrap,
        topics,
        "no-drift",
        duration_s=180.0,
        before_job=register_profile,
    )
    assert run.rollbacks == []
    baseline = [
        s for s in run.signals if s["drift"] and s["drift"]["comparison"] == "baseline"
    ]
    assert len({s["window_start_ms"] for s in baseline}) >= 30
    reference = [
        s for s in run.signals if s["drift"] and s["drift"]["comparison"] == "reference"
    ]
    assert {s["version"] for s in reference} == {"v1", "v2"}
    assert {s["drift"]["reference_version"] for s in reference} == {"v1"}
    flagged = sum(s["drift"]["drifted_corrected"] for s in reference)
    assert flagged <= 0.02 * len(reference)


def test_a_stalled_rollout_is_reported_without_a_rollback(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    run = drift_run(
        kafka_bootstrap,
        topics,
        "stalled-rollout",
        duration_s=90.0,
        announce=True,
        rollout_step_s=2.0,
        policy=GuardPolicy(rollout=RolloutPolicy(stall_ms=15_000)),
    )
    assert run.rollbacks == []
    versions = [s for s in run.signals if s["kind"] == "fleet.version"]
    stalled = [s for s in versions if s["rollout"]["stalled"]]
    assert stalled and {s["version"] for s in stalled} == {"v2"}
    assert all(s["rollout"]["target_replicas"] == 40 for s in stalled)
    assert all(s["rollout"]["replicas"] < 40 for s in stalled)
    candidate = [
        s for s in run.signals if s["baseline_version"] and s["role"] == "candidate"
    ]
    assert {s["baseline_version"] for s in candidate} == {"v1"}


def test_missing_values_new_features_unknown_models_and_late_samples_are_handled(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    def inject(report: SimulationReport) -> None:
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        after = report.end_ms + 1_000

        def sample(model: str, numeric: dict, ts: int) -> bytes:
            return FEATURE_SAMPLE.encode(
                {
                    "sample_id": f"extra-{model}-{ts}",
                    "timestamp_ms": ts,
                    "model": model,
                    "version": "v1",
                    "replica": "x",
                    "shard": "s00",
                    "mode": "primary",
                    "numeric": numeric,
                    "categorical": {},
                    "prediction": None,
                    "prediction_label": None,
                }
            )

        # Written after the fleet's samples, so with event times after them: a
        # model nobody announced and a feature nobody saw before.
        for i in range(50):
            producer.produce(
                topics["features"],
                key=b"x",
                value=sample(
                    "mystery", {"brand_new": float(i), "f00": None}, after + i
                ),
                headers=[
                    ("dl.model", b"mystery"),
                    ("dl.version", b"v1"),
                    ("dl.shard", b"s00"),
                ],
                timestamp=after + i,
            )
        # Late: far behind the watermark, written after everything else.
        producer.produce(
            topics["features"],
            key=b"late",
            value=sample("ranker", {}, report.start_ms),
            headers=FEATURE_HEADERS,
            timestamp=report.start_ms,
        )
        producer.produce(
            topics["features"],
            key=b"bad",
            value=b"\x00not a sample",
            headers=FEATURE_HEADERS,
            timestamp=after,
        )
        producer.flush(10)

    run = drift_run(
        kafka_bootstrap,
        topics,
        "feature-drift",
        missing_share=0.1,
        before_job=inject,
    )
    reasons = sorted(d["reason"] for d in run.dead_letters)
    assert reasons == ["late", "undecodable"]
    assert {d["source_topic"] for d in run.dead_letters} == {topics["features"]}
    mystery = [s for s in run.signals if s["model"] == "mystery"]
    assert {s["kind"] for s in mystery} == {"fleet.version"}
    assert mystery[0]["n"] == 50
    # Missing values do not become drift: the planted features still win alone.
    assert len(run.rollbacks) == 1
    assert evidence_features(run.rollbacks[0]) == {"f03", "f11"}
    drift = [s for s in run.signals if s["drift"] and s["model"] == "ranker"]
    missing = [
        s["drift"]["missing_rate"] for s in drift if s["drift"]["feature"] == "f01"
    ]
    assert 0.05 < sum(missing) / len(missing) < 0.15
