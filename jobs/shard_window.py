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

import math
from typing import NamedTuple

import numpy as np

from jobs.window_batch import WindowBatch
from schemas import SPAN
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


def build_shard_window(batch: WindowBatch, k: int | None = None) -> ShardSketchRow:
    """Decode one window's span values and sketch their durations.

    Args:
        batch: the window's raw values and their Kafka metadata; values that
            are not spans, or whose duration is unusable, become its dead
            letters.
        k: KLL accuracy parameter; the sketches' default when None.

    Returns:
        Counts, the serialized duration and time-to-first-token sketches (the
        latter empty bytes when no span had one), and encoded dead letters.
        An empty window gives zero counts and an empty sketch.
    """
    durations = np.empty(len(batch), dtype=np.float64)
    ttfts = np.empty(len(batch), dtype=np.float64)
    n = n_ttft = n_error = 0
    replicas: set[str] = set()
    for i, span in batch.records(SPAN, "driftline.Span"):
        duration = span["duration_ms"]
        if not (math.isfinite(duration) and duration >= 0.0):
            batch.reject(
                i,
                "invalid-value",
                f"duration_ms must be finite and >= 0, got {duration!r}",
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
        n, n_error, len(replicas), sketch.to_bytes(), ttft_bytes, batch.dead_letters
    )
