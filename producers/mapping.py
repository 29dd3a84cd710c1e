"""How a finished OpenTelemetry span becomes a driftline ``Span`` record.

`span_record` is the mapping `producers.exporter.KafkaSpanExporter` applies
to every span; it is a pure function, so it can be checked without Kafka.

The attribute names and precedence are tabled in `producers.exporter`, the
module users read; the constants below are those names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

ATTR_REPLICA = "service.instance.id"
ATTR_HOST = "host.name"
ATTR_GENAI_MODEL = "gen_ai.request.model"
ATTR_MODEL = "driftline.model"
ATTR_VERSION = "driftline.model.version"
ATTR_SHARD = "driftline.shard"
ATTR_GENAI_TTFT_S = "gen_ai.server.time_to_first_token"
ATTR_TTFT_MS = "driftline.ttft_ms"

DEFAULT_REPLICA = "unknown"
DEFAULT_VERSION = "unknown"
DEFAULT_SHARD = "0"

# Attributes the mapping consumes; everything else goes to ``attributes``.
_CONSUMED = frozenset(
    {
        ATTR_REPLICA,
        ATTR_GENAI_MODEL,
        ATTR_MODEL,
        ATTR_VERSION,
        ATTR_SHARD,
        ATTR_GENAI_TTFT_S,
        ATTR_TTFT_MS,
    }
)


# Producer settings the exporter owns: a caller sets them through arguments.
@dataclass(frozen=True, slots=True)
class ResourceFields:
    """The routing fields of one resource; resources are immutable, so an
    exporter reads them once per resource, not once per span."""

    replica: str | None
    host: str | None
    model: str | None
    version: str | None
    shard: str | None


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def resource_fields(resource: Resource) -> ResourceFields:
    """Read the routing fields of ``resource`` (None where absent)."""
    attrs = resource.attributes
    return ResourceFields(
        replica=_str_or_none(attrs.get(ATTR_REPLICA)),
        host=_str_or_none(attrs.get(ATTR_HOST)),
        model=_str_or_none(attrs.get(ATTR_MODEL)),
        version=_str_or_none(attrs.get(ATTR_VERSION)),
        shard=_str_or_none(attrs.get(ATTR_SHARD)),
    )


def _stringify(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Sequence):
        return json.dumps(list(value))
    return str(value)


def _ttft_ms(attrs: Mapping[str, object]) -> float | None:
    seconds = attrs.get(ATTR_GENAI_TTFT_S)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        value = float(seconds) * 1000.0
    else:
        millis = attrs.get(ATTR_TTFT_MS)
        if not isinstance(millis, int | float) or isinstance(millis, bool):
            return None
        value = float(millis)
    if not math.isfinite(value) or value < 0.0:
        return None
    return value


def span_record(
    span: ReadableSpan, fields: ResourceFields | None = None
) -> dict[str, Any] | None:
    """Map one finished OTel span to a ``Span`` record (table: `producers.exporter`).

    Args:
        span: a finished span, as a ``BatchSpanProcessor`` hands it over.
        fields: the span resource's fields if the caller cached them; read
            from ``span.resource`` when None.

    Returns:
        The record, ready for ``SPAN.encode``; None when the span carries no
        model (not an inference span) or has not ended.
    """
    # One pass over the attributes: the few consumed ones land in a small
    # dict, the rest are stringified. This runs once per span, so it is kept
    # lean (see the simulator's throughput notes).
    consumed: dict[str, Any] = {}
    other: dict[str, str] = {}
    for key, value in (span.attributes or {}).items():
        if key in _CONSUMED:
            consumed[key] = value
        else:
            other[key] = value if type(value) is str else _stringify(value)
    res = fields or resource_fields(span.resource)

    if consumed:
        get = consumed.get
        model = _str_or_none(get(ATTR_GENAI_MODEL) or get(ATTR_MODEL)) or res.model
        replica = _str_or_none(get(ATTR_REPLICA)) or res.replica or res.host
        version = _str_or_none(get(ATTR_VERSION)) or res.version
        shard = _str_or_none(get(ATTR_SHARD)) or res.shard
        ttft_ms = _ttft_ms(consumed)
    else:
        model, version, shard = res.model, res.version, res.shard
        replica = res.replica or res.host
        ttft_ms = None
    start_ns, end_ns = span.start_time, span.end_time
    if not model or start_ns is None or end_ns is None:
        return None

    context = span.context
    trace_id = context.trace_id if context is not None else 0
    span_id = context.span_id if context is not None else 0
    return {
        "trace_id": format(trace_id, "032x"),
        "span_id": format(span_id, "016x"),
        "name": span.name,
        "start_ms": start_ns // 1_000_000,
        "end_ms": end_ns // 1_000_000,
        "duration_ms": (end_ns - start_ns) / 1e6,
        "ttft_ms": ttft_ms,
        "model": model,
        "version": version or DEFAULT_VERSION,
        "replica": replica or DEFAULT_REPLICA,
        "shard": shard or DEFAULT_SHARD,
        "is_error": span.status.status_code is StatusCode.ERROR,
        "attributes": other,
    }
