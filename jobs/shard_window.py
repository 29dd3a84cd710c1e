"""The body of the hot-path aggregate: one shard's window of raw spans in, one
sketch row out.

The stream job keys and windows spans in the JVM using the Kafka timestamp and
the ``dl.*`` headers, and hands each (model, version, shard) window's column
of raw Avro values to this code once, in a vectorized (pandas) aggregate. This
is the only place a span value is decoded, so Python touches each record
exactly once, inside a batch.

A value that does not decode as a `driftline.Span`, or whose duration is not a
finite non-negative number, is not dropped: it becomes a `DeadLetter` record
(original bytes, source partition and offset, reason) returned with the window
for the job to write to the dead-letter topic. Spans with ``is_error`` set are
counted in ``n_error`` and kept out of the latency sketch, since a failed
request's duration says little about serving latency.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import fastavro
import numpy as np

from schemas import DEADLETTER, SPAN
from sketches import NumericSketch

STAGE = "latency.shard-window"


class ShardSketchRow(NamedTuple):
    """What one shard window contributes downstream."""

    n: int
    n_error: int
    replicas: int
    sketch: bytes
    ttft_sketch: bytes
    dead_letters: list[bytes]


def build_shard_window(
    payloads: Sequence[Any],
    keys: Sequence[Any],
    partitions: Sequence[Any],
    offsets: Sequence[Any],
    timestamps_ms: Sequence[Any],
    source_topic: str,
    k: int | None = None,
) -> ShardSketchRow:
    """Decode one window's span values and sketch their durations.

    Args:
        payloads: raw Kafka values of the window, one per span.
        keys, partitions, offsets, timestamps_ms: the matching Kafka metadata,
            used only to describe rejected values.
        source_topic: topic the values came from, for dead letters.
        k: KLL accuracy parameter; the sketches' default when None.

    Returns:
        Counts, the serialized duration and time-to-first-token sketches (the
        latter empty bytes when no span had one), and encoded dead letters.
        An empty window gives zero counts and an empty sketch.
    """
    size = len(payloads)
    durations = np.empty(size, dtype=np.float64)
    ttfts = np.empty(size, dtype=np.float64)
    n = n_ttft = n_error = 0
    replicas: set[str] = set()
    dead: list[bytes] = []
    schema = SPAN.schema
    reader = fastavro.schemaless_reader
    for i, raw in enumerate(payloads):
        value = bytes(raw)
        buf = io.BytesIO(value)
        try:
            span: dict[str, Any] = cast(dict, reader(buf, schema, None))
            if buf.tell() != len(value):
                raise ValueError(f"{len(value) - buf.tell()} bytes left over")
        except Exception as exc:  # fastavro raises many kinds on garbage
            dead.append(
                dead_letter(
                    value,
                    keys[i],
                    partitions[i],
                    offsets[i],
                    timestamps_ms[i],
                    source_topic,
                    STAGE,
                    "undecodable",
                    f"not a driftline.Span: {type(exc).__name__}: {exc}",
                )
            )
            continue
        duration = span["duration_ms"]
        if not (math.isfinite(duration) and duration >= 0.0):
            dead.append(
                dead_letter(
                    value,
                    keys[i],
                    partitions[i],
                    offsets[i],
                    timestamps_ms[i],
                    source_topic,
                    STAGE,
                    "invalid-value",
                    f"duration_ms must be finite and >= 0, got {duration!r}",
                )
            )
            continue
        replicas.add(span["replica"])
        if span["is_error"]:
            n_error += 1
            continue
        durations[n] = duration
        n += 1
        ttft = span["ttft_ms"]
        if ttft is not None:
            ttfts[n_ttft] = ttft
            n_ttft += 1

    sketch = NumericSketch() if k is None else NumericSketch(k)
    sketch.update(durations[:n])
    ttft_bytes = b""
    if n_ttft:
        ttft_sketch = NumericSketch() if k is None else NumericSketch(k)
        ttft_sketch.update(ttfts[:n_ttft])
        ttft_bytes = ttft_sketch.to_bytes()
    return ShardSketchRow(
        n, n_error, len(replicas), sketch.to_bytes(), ttft_bytes, dead
    )


def dead_letter(
    value: bytes,
    key: Any,
    partition: Any,
    offset: Any,
    timestamp_ms: Any,
    source_topic: str,
    stage: str,
    reason: str,
    detail: str,
) -> bytes:
    """Encode a rejected value as a `DeadLetter` record."""
    return DEADLETTER.encode(
        {
            "source_topic": source_topic,
            "source_partition": int(partition),
            "source_offset": int(offset),
            "key": None if key is None else bytes(key),
            "payload": value,
            "reason": reason,
            "detail": detail,
            "record_timestamp_ms": int(timestamp_ms),
            "stage": stage,
        }
    )
