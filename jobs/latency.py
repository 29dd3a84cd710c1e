"""The latency branch: spans to one duration sketch per shard window.

Spans are keyed by (model, version, shard) from their routing headers and
windowed on their Kafka timestamp in the JVM (`jobs.source`); a vectorized
pandas aggregate then decodes each window's values once and sketches them
(`jobs.shard_window`). The branch ends in the job's uniform shard-row shape
(see `jobs.pipeline.SHARD_ROW_FIELDS`), with ``sketch`` holding the duration
sketch and ``extra`` the time-to-first-token sketch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from pyflink.table import DataTypes, StatementSet, StreamTableEnvironment, Table
from pyflink.table.expressions import col, lit
from pyflink.table.udf import udaf
from pyflink.table.window import Tumble

from jobs.config import JobConfig
from jobs.shard_window import STAGE, build_shard_window
from jobs.source import routed_source
from jobs.window_batch import WindowBatch

KIND = "latency"

SHARD_ROW_TYPE = DataTypes.ROW(
    [
        DataTypes.FIELD("n", DataTypes.BIGINT()),
        DataTypes.FIELD("n_error", DataTypes.BIGINT()),
        DataTypes.FIELD("replicas", DataTypes.INT()),
        DataTypes.FIELD("sketch", DataTypes.BYTES()),
        DataTypes.FIELD("extra", DataTypes.BYTES()),
        DataTypes.FIELD("dead_letters", DataTypes.ARRAY(DataTypes.BYTES())),
    ]
)


def epoch_ms(series: pd.Series) -> pd.Series:
    """Kafka timestamps as handed to a pandas aggregate, in epoch ms."""
    stamps = pd.to_datetime(series, utc=True)
    return (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")


def window_udaf(
    body: Callable[[WindowBatch, int | None], tuple[Any, ...]],
    source_topic: str,
    stage: str,
    k: int | None,
) -> Any:
    """Wrap an aggregate body as a pandas UDAF over a window's raw records.

    The body gets the whole window at once as a `WindowBatch` and returns
    one `SHARD_ROW_TYPE` tuple.
    """

    def aggregate(
        payload: pd.Series,
        record_key: pd.Series,
        src_partition: pd.Series,
        src_offset: pd.Series,
        event_ts: pd.Series,
    ) -> tuple[Any, ...]:
        batch = WindowBatch(
            payload.tolist(),
            record_key.tolist(),
            src_partition.tolist(),
            src_offset.tolist(),
            epoch_ms(event_ts).tolist(),
            source_topic,
            stage,
        )
        return body(batch, k)

    return udaf(aggregate, result_type=SHARD_ROW_TYPE, func_type="pandas")


def _latency_row(batch: WindowBatch, k: int | None) -> tuple[Any, ...]:
    return tuple(build_shard_window(batch, k))


def windowed(accepted: Table, window_ms: int, aggregate: Any, kind: str) -> Table:
    """Tumble ``accepted`` per (model, version, shard), aggregate each window's
    raw values at once, and flatten into the uniform shard-row shape."""
    windows = (
        accepted.window(
            Tumble.over(lit(window_ms).milli).on(col("event_ts")).alias("w")
        )
        .group_by(col("w"), col("model"), col("version"), col("shard"))
        .select(
            col("model"),
            col("version"),
            col("shard"),
            col("w").rowtime.alias("window_time"),
            aggregate(
                col("payload"),
                col("record_key"),
                col("src_partition"),
                col("src_offset"),
                col("event_ts"),
            ).alias("r"),
        )
    )
    return windows.select(
        lit(kind).alias("kind"),
        col("model"),
        col("version"),
        col("shard"),
        col("r").get("n").alias("n"),
        col("r").get("n_error").alias("n_error"),
        col("r").get("replicas").alias("replicas"),
        col("r").get("sketch").alias("sketch"),
        col("r").get("extra").alias("extra"),
        col("r").get("dead_letters").alias("dead_letters"),
        col("window_time"),
    )


def latency_shard_rows(
    t_env: StreamTableEnvironment, statements: StatementSet, config: JobConfig
) -> Table:
    """Declare the spans source and return its shard rows."""
    accepted = routed_source(
        t_env,
        statements,
        name="spans",
        topic=config.spans_topic,
        bootstrap=config.bootstrap,
        group_id=f"{config.group_id}-spans",
        grace_ms=config.grace_ms,
        bounded=config.bounded,
        properties=config.kafka_properties,
        deadletter_table="deadletter_sink",
    )
    aggregate = window_udaf(_latency_row, config.spans_topic, STAGE, config.sketch_k)
    return windowed(accepted, config.window_ms, aggregate, KIND)
