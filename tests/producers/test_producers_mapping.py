"""The span → ``Span`` record mapping, on spans from a real TracerProvider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import Status, StatusCode

from producers.mapping import span_record
from schemas import SPAN

START_NS = 1_700_000_000_123_456_789


def finished_span(
    resource: Mapping[str, Any],
    attributes: Mapping[str, Any] | None = None,
    *,
    duration_ns: int = 40_000_123,
    error: bool = False,
) -> ReadableSpan:
    memory = InMemorySpanExporter()
    # Resource(...) rather than Resource.create(...): the latter adds SDK
    # defaults, among them a random service.instance.id.
    provider = TracerProvider(resource=Resource(dict(resource)), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    span = provider.get_tracer("test").start_span(
        "predict", attributes=dict(attributes or {}), start_time=START_NS
    )
    if error:
        span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end(end_time=START_NS + duration_ns)
    (done,) = memory.get_finished_spans()
    return done


FLEET_RESOURCE = {
    "service.instance.id": "ranker-007",
    "driftline.model": "ranker",
    "driftline.model.version": "v2",
    "driftline.shard": "s03",
}


def test_resource_attributes_fill_the_routing_fields() -> None:
    record = span_record(finished_span(FLEET_RESOURCE))

    assert record is not None
    assert (record["replica"], record["model"], record["version"]) == (
        "ranker-007",
        "ranker",
        "v2",
    )
    assert record["shard"] == "s03"


def test_span_attributes_win_over_resource_attributes() -> None:
    record = span_record(
        finished_span(
            FLEET_RESOURCE,
            {
                "service.instance.id": "ranker-009",
                "driftline.model.version": "v3",
                "driftline.shard": "s01",
            },
        )
    )

    assert record is not None
    assert (record["replica"], record["version"], record["shard"]) == (
        "ranker-009",
        "v3",
        "s01",
    )


def test_the_genai_request_model_wins_over_the_driftline_model() -> None:
    record = span_record(
        finished_span(FLEET_RESOURCE, {"gen_ai.request.model": "llama-3-8b"})
    )

    assert record is not None
    assert record["model"] == "llama-3-8b"


def test_a_span_without_a_model_is_not_an_inference_span() -> None:
    assert span_record(finished_span({"service.instance.id": "web-1"})) is None


def test_missing_routing_fields_take_the_documented_defaults() -> None:
    record = span_record(finished_span({"driftline.model": "ranker"}))
    with_host = span_record(
        finished_span({"driftline.model": "ranker", "host.name": "node-4"})
    )

    assert record is not None and with_host is not None
    assert (record["replica"], record["version"], record["shard"]) == (
        "unknown",
        "unknown",
        "0",
    )
    assert with_host["replica"] == "node-4"


def test_genai_time_to_first_token_in_seconds_becomes_ttft_ms() -> None:
    record = span_record(
        finished_span(FLEET_RESOURCE, {"gen_ai.server.time_to_first_token": 0.0125})
    )

    assert record is not None
    assert record["ttft_ms"] == pytest.approx(12.5)


def test_driftline_ttft_ms_is_used_when_the_genai_attribute_is_absent() -> None:
    record = span_record(finished_span(FLEET_RESOURCE, {"driftline.ttft_ms": 7}))

    assert record is not None
    assert record["ttft_ms"] == 7.0


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), "fast", True])
def test_an_unusable_ttft_becomes_null(bad: object) -> None:
    record = span_record(
        finished_span(FLEET_RESOURCE, {"gen_ai.server.time_to_first_token": bad})
    )

    assert record is not None
    assert record["ttft_ms"] is None


def test_times_are_epoch_ms_and_the_duration_keeps_nanoseconds() -> None:
    record = span_record(finished_span(FLEET_RESOURCE, duration_ns=40_000_123))

    assert record is not None
    assert record["start_ms"] == START_NS // 1_000_000
    assert record["end_ms"] == (START_NS + 40_000_123) // 1_000_000
    assert record["duration_ms"] == pytest.approx(40.000123, abs=1e-9)


def test_an_error_status_marks_the_record_as_an_error() -> None:
    failed = span_record(finished_span(FLEET_RESOURCE, error=True))
    ok = span_record(finished_span(FLEET_RESOURCE))

    assert failed is not None and ok is not None
    assert failed["is_error"] is True
    assert ok["is_error"] is False


def test_other_span_attributes_are_stringified_and_consumed_ones_left_out() -> None:
    record = span_record(
        finished_span(
            FLEET_RESOURCE,
            {
                "http.route": "/predict",
                "batch.size": 32,
                "score.threshold": 0.5,
                "cache.hit": False,
                "features.used": ("age", "country"),
                "gen_ai.server.time_to_first_token": 0.01,
                "driftline.shard": "s03",
            },
        )
    )

    assert record is not None
    assert record["attributes"] == {
        "http.route": "/predict",
        "batch.size": "32",
        "score.threshold": "0.5",
        "cache.hit": "false",
        "features.used": '["age", "country"]',
    }


def test_trace_and_span_ids_are_lowercase_hex_of_fixed_width() -> None:
    span = finished_span(FLEET_RESOURCE)
    record = span_record(span)

    assert record is not None
    assert span.context is not None
    assert record["trace_id"] == f"{span.context.trace_id:032x}"
    assert record["span_id"] == f"{span.context.span_id:016x}"


def test_a_mapped_record_round_trips_through_the_span_codec() -> None:
    record = span_record(
        finished_span(FLEET_RESOURCE, {"gen_ai.server.time_to_first_token": 0.01})
    )

    assert record is not None
    assert SPAN.decode(SPAN.encode(record)) == record
