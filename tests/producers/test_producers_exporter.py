"""KafkaSpanExporter: the message contract on a real broker, and back-pressure
against a broker that cannot be reached."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import Status, StatusCode

from driftline.errors import ConfigError
from producers import KafkaSpanExporter
from schemas import SPAN

START_NS = 1_700_000_000_000_000_000
REPLICA_RESOURCE = Resource(
    {
        "service.instance.id": "ranker-007",
        "driftline.model": "ranker",
        "driftline.model.version": "v2",
        "driftline.shard": "s03",
    }
)


@pytest.fixture
def stalled_exporter(unreachable_bootstrap: str) -> Iterator[KafkaSpanExporter]:
    exporter = KafkaSpanExporter(unreachable_bootstrap, "spans", max_buffered=10)
    yield exporter
    exporter.shutdown(timeout_millis=0)


def inference_spans(count: int) -> list[ReadableSpan]:
    """Finished spans from a real TracerProvider, one ms apart."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=REPLICA_RESOURCE, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for i in range(count):
        span = tracer.start_span("predict", start_time=START_NS + i * 1_000_000)
        span.end(end_time=START_NS + i * 1_000_000 + 40_000_000)
    return list(memory.get_finished_spans())


def test_spans_reach_kafka_keyed_by_replica_stamped_with_end_ms_and_routed_by_headers(
    kafka_bootstrap: str, span_topic: str, read_topic
) -> None:
    exporter = KafkaSpanExporter(kafka_bootstrap, span_topic)
    processor = BatchSpanProcessor(exporter)
    provider = TracerProvider(resource=REPLICA_RESOURCE, shutdown_on_exit=False)
    provider.add_span_processor(processor)
    web = TracerProvider(
        resource=Resource({"service.instance.id": "web-1"}), shutdown_on_exit=False
    )
    web.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    end_ns = START_NS + 41_500_000
    inference = tracer.start_span(
        "predict",
        attributes={"gen_ai.server.time_to_first_token": 0.012, "http.route": "/p"},
        start_time=START_NS,
    )
    inference.set_status(Status(StatusCode.ERROR))
    inference.end(end_time=end_ns)
    not_inference = web.get_tracer("test").start_span("GET /", start_time=START_NS)
    not_inference.end(end_time=end_ns)

    processor.shutdown()  # exports what is queued, then shuts the exporter down
    (message,) = read_topic(span_topic, 1)

    assert message.key() == b"ranker-007"
    assert message.timestamp() == (TIMESTAMP_CREATE_TIME, end_ns // 1_000_000)
    assert dict(message.headers() or []) == {
        "dl.model": b"ranker",
        "dl.version": b"v2",
        "dl.shard": b"s03",
    }
    record = SPAN.decode(message.value() or b"")
    assert record["end_ms"] == end_ns // 1_000_000
    assert record["duration_ms"] == pytest.approx(41.5)
    assert record["ttft_ms"] == pytest.approx(12.0)
    assert record["is_error"] is True
    assert record["attributes"] == {"http.route": "/p"}
    assert exporter.stats() == {
        "exported": 1,
        "dropped": 0,
        "skipped": 1,
        "failed": 0,
        "buffered": 0,
    }


def test_a_full_buffer_drops_and_counts_spans_without_blocking(
    stalled_exporter: KafkaSpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    spans = inference_spans(500)

    with caplog.at_level(logging.WARNING, logger="producers.exporter"):
        started_s = time.monotonic()
        first = stalled_exporter.export(spans[:250])
        second = stalled_exporter.export(spans[250:])
        elapsed_s = time.monotonic() - started_s

    assert elapsed_s < 1.0
    assert (first, second) == (SpanExportResult.FAILURE, SpanExportResult.FAILURE)
    assert stalled_exporter.exported == 10
    assert stalled_exporter.dropped == 490
    assert stalled_exporter.exported + stalled_exporter.dropped == len(spans)
    drop_warnings = [r for r in caplog.records if "spans lost" in r.getMessage()]
    assert len(drop_warnings) == 1  # rate-limited: one line, not one per span
    assert "dropped=240" in drop_warnings[0].getMessage()


def test_the_serving_thread_never_waits_on_a_stalled_broker(
    stalled_exporter: KafkaSpanExporter,
) -> None:
    provider = TracerProvider(resource=REPLICA_RESOURCE, shutdown_on_exit=False)
    processor = BatchSpanProcessor(stalled_exporter, max_export_batch_size=64)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")

    started_s = time.monotonic()
    for i in range(2_000):
        span = tracer.start_span("predict", start_time=START_NS + i)
        span.end(end_time=START_NS + i + 1_000_000)
    serving_s = time.monotonic() - started_s
    processor.force_flush()

    assert serving_s < 2.0
    assert stalled_exporter.exported == 10
    assert stalled_exporter.dropped == 1_990


def test_drop_warnings_repeat_only_after_the_interval_with_the_new_counts(
    unreachable_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    now_s = [100.0]
    exporter = KafkaSpanExporter(
        unreachable_bootstrap,
        "spans",
        max_buffered=1,
        warn_interval_s=10.0,
        clock_s=lambda: now_s[0],
    )
    spans = inference_spans(4)

    with caplog.at_level(logging.WARNING, logger="producers.exporter"):
        exporter.export(spans[:2])  # one queued, one dropped: warns
        exporter.export(spans[2:3])  # dropped within the interval: quiet
        now_s[0] += 10.0
        exporter.export(spans[3:])  # dropped after the interval: warns
    exporter.shutdown(timeout_millis=0)

    lines = [r.getMessage() for r in caplog.records if "spans lost" in r.getMessage()]
    assert "dropped=1 (+1)" in lines[0]
    assert "dropped=3 (+2)" in lines[1]


def test_shutdown_purges_undeliverable_spans_and_counts_them_as_failed(
    stalled_exporter: KafkaSpanExporter,
) -> None:
    stalled_exporter.export(inference_spans(5))

    started_s = time.monotonic()
    stalled_exporter.shutdown(timeout_millis=200)

    assert time.monotonic() - started_s < 5.0
    assert stalled_exporter.failed == 5
    assert stalled_exporter.buffered == 0


def test_export_after_shutdown_fails_and_counts_the_spans_as_dropped(
    stalled_exporter: KafkaSpanExporter,
) -> None:
    stalled_exporter.shutdown(timeout_millis=0)

    result = stalled_exporter.export(inference_spans(3))

    assert result is SpanExportResult.FAILURE
    assert stalled_exporter.dropped == 3
    assert stalled_exporter.exported == 0


def test_force_flush_reports_whether_the_buffer_drained(
    stalled_exporter: KafkaSpanExporter,
) -> None:
    assert stalled_exporter.force_flush(timeout_millis=0) is True

    stalled_exporter.export(inference_spans(2))

    assert stalled_exporter.force_flush(timeout_millis=50) is False


def test_security_settings_pass_through_and_never_reach_a_log_line(
    unreachable_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-do-not-log"
    with caplog.at_level(logging.DEBUG):
        exporter = KafkaSpanExporter(
            unreachable_bootstrap,
            "spans",
            max_buffered=1,
            producer_config={
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.username": "driftline",
                "sasl.password": secret,
            },
        )
        exporter.export(inference_spans(3))
        exporter.shutdown(timeout_millis=100)

    assert exporter.dropped == 2
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_buffered": 0}, "max_buffered must be at least 1, got 0"),
        ({"topic": ""}, "topic must not be empty"),
        (
            {"producer_config": {"bootstrap.servers": "elsewhere:9092"}},
            "producer_config must not set ['bootstrap.servers']",
        ),
        (
            {"producer_config": {"no.such.setting": "1"}},
            "bad Kafka producer setting",
        ),
    ],
)
def test_bad_arguments_raise_a_config_error_that_names_them(
    unreachable_bootstrap: str, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        KafkaSpanExporter(unreachable_bootstrap, **kwargs)

    assert message in str(raised.value)
