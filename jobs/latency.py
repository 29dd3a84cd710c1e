"""The latency branch: spans to one duration sketch per shard window.

Spans are keyed by (model, version, shard) from their routing headers and
windowed on their Kafka timestamp in the JVM (`jobs.source`); a vectorized
pandas aggregate then decodes each window's values once and sketches them
(`jobs.shard_window`). Rows leave in the shape of `jobs.shard_rows`, with
``sketch`` holding the duration sketch and ``extra`` the time-to-first-token
sketch.
"""

from __future__ import annotations

from typing import Any

from pyflink.table import StatementSet, StreamTableEnvironment, Table

from jobs.config import JobConfig
from jobs.shard_rows import shard_rows
from jobs.shard_window import STAGE, build_shard_window
from jobs.window_batch import WindowBatch

KIND = "latency"


def _latency_row(batch: WindowBatch, k: int | None) -> tuple[Any, ...]:
    return tuple(build_shard_window(batch, k))


def latency_shard_rows(
    t_env: StreamTableEnvironment, statements: StatementSet, config: JobConfig
) -> Table:
    """Declare the spans source and return its shard rows."""
    return shard_rows(
        t_env,
        statements,
        config,
        name="spans",
        topic=config.spans_topic,
        kind=KIND,
        stage=STAGE,
        body=_latency_row,
    )
