"""The job as it runs in production: unbounded, with watermarks driven by live
traffic, control records applied while it runs."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer

from driftline.profiles import build_profile, publish_profile
from jobs import pipeline
from jobs.config import JobConfig
from producers import SimulationConfig, reference_frame
from producers import run as simulate
from schemas import SIGNAL


def send_samples(bootstrap: str, topics: dict[str, str], start_ms: int) -> None:
    simulate(
        SimulationConfig(
            scenario="no-drift",
            replicas=20,
            shards=2,
            rate_per_s=50.0,
            feature_rate_per_s=400.0,
            duration_s=20.0,
            seed=5,
            rollout_at_s=1.0,
            start_ms=start_ms,
        ),
        bootstrap,
        topic=topics["spans"],
        feature_topic=topics["features"],
        deployment_topic=topics["deployments"],
    )


def test_a_profile_registered_while_the_job_runs_is_used_without_a_restart(
    kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    result = pipeline.run(
        JobConfig.for_topics(
            kafka_bootstrap,
            topics,
            window_ms=5_000,
            grace_ms=1_000,
            idle_ms=2_000,
            checkpoint_ms=2_000,
            group_id=f"test-stream-{uuid.uuid4().hex[:8]}",
        ),
        wait=False,
    )
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-read-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics["signals"]])
    try:
        now_ms = int(time.time() * 1000)
        send_samples(kafka_bootstrap, topics, now_ms - 40_000)
        before: list[dict] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(s["drift"] for s in before):
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                before.append(SIGNAL.decode(message.value()))
        assert any(s["drift"] for s in before), "the running job produced no drift"
        assert not any(
            s["drift"] and s["drift"]["comparison"] == "reference" for s in before
        )

        profile = build_profile(
            reference_frame(5, 5_000), model="ranker", version="v1", source="ref"
        )
        publish_profile(kafka_bootstrap, topics["profiles"], profile)
        send_samples(kafka_bootstrap, topics, now_ms - 20_000)

        reference: list[dict] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not reference:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            signal = SIGNAL.decode(message.value())
            if signal["drift"] and signal["drift"]["comparison"] == "reference":
                reference.append(signal)
        assert reference, "the profile never reached the running job"
        assert reference[0]["drift"]["reference_version"] == "v1"
    finally:
        consumer.close()
        result.get_job_client().cancel().result()
