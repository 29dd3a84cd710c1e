"""The span side of the fleet simulator: one tracer per virtual replica and
version, all feeding one span processor.

Each virtual replica has its own ``TracerProvider`` whose ``Resource``
carries ``service.instance.id``, ``driftline.shard``, ``driftline.model`` and
``driftline.model.version``; a candidate replica gets a second provider with
the candidate version, as a restarted replica would. Trace and span ids come
from a generator seeded by the config. `producers.simulator.run` drives them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from producers.fleet import FleetPlan, SimulationConfig, Traffic
from producers.mapping import (
    ATTR_GENAI_TTFT_S,
    ATTR_MODEL,
    ATTR_REPLICA,
    ATTR_SHARD,
    ATTR_VERSION,
)

logger = logging.getLogger(__name__)

SPAN_NAME = "predict"
FLUSH_TIMEOUT_MS = 30_000


class SeededIds(IdGenerator):
    """Trace and span ids from a seeded generator, never zero."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


class CountingExporter(SpanExporter):
    """Counts what the processor hands to an exporter that does not count."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.offered = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.offered += len(spans)
        try:
            result = self.inner.export(spans)
        except Exception:
            logger.exception("span exporter raised; batch of %d lost", len(spans))
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self.failed += len(spans)
        return result

    def force_flush(self, timeout_millis: int = FLUSH_TIMEOUT_MS) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        # The caller owns the exporter it passed in; it shuts it down.
        return None


def tracers(
    config: SimulationConfig,
    plan: FleetPlan,
    processor: BatchSpanProcessor,
) -> tuple[list[Tracer], list[Tracer]]:
    """One tracer per replica before the rollout and one after."""
    ids = SeededIds(config.seed)

    def tracer(index: int, version: str) -> Tracer:
        resource = Resource.create(
            {
                "service.name": f"{config.model}-serving",
                ATTR_REPLICA: plan.replica_ids[index],
                ATTR_SHARD: plan.replica_shards[index],
                ATTR_MODEL: config.model,
                ATTR_VERSION: version,
            }
        )
        provider = TracerProvider(
            sampler=ALWAYS_ON,
            resource=resource,
            shutdown_on_exit=False,
            id_generator=ids,
        )
        provider.add_span_processor(processor)
        return provider.get_tracer("driftline.simulator")

    before = [tracer(i, config.baseline_version) for i in range(config.replicas)]
    after = [
        tracer(i, config.candidate_version) if plan.is_candidate[i] else before[i]
        for i in range(config.replicas)
    ]
    return before, after


def emit_spans(
    traffic: Traffic, before: list[Tracer], after: list[Tracer]
) -> tuple[int, int]:
    """Create and end one chunk of spans; returns (baseline, candidate) counts."""
    error = Status(StatusCode.ERROR)
    end_ns = traffic.end_ns.tolist()
    duration_ns = traffic.duration_ns.tolist()
    ttft_s = traffic.ttft_s.tolist()
    replica = traffic.replica.tolist()
    on_candidate = traffic.on_candidate.tolist()
    is_error = traffic.is_error.tolist()
    server = SpanKind.SERVER
    for k in range(len(end_ns)):
        tracers = after if on_candidate[k] else before
        span = tracers[replica[k]].start_span(
            SPAN_NAME,
            kind=server,
            attributes={ATTR_GENAI_TTFT_S: ttft_s[k]},
            start_time=end_ns[k] - duration_ns[k],
            record_exception=False,
            set_status_on_exception=False,
        )
        if is_error[k]:
            span.set_status(error)
        span.end(end_time=end_ns[k])
    candidate = int(traffic.on_candidate.sum())
    return len(end_ns) - candidate, candidate
