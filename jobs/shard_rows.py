"""The shape every hot-path branch ends in: one row per shard window.

A branch reads a routed source (`jobs.source`), tumbles it per (model,
version, shard) in the JVM, and hands each window's raw values to a body
function at once, as a `WindowBatch`, through a vectorized pandas aggregate.
Every branch then yields the same columns, so the guard receives one stream:

``kind, model, version, shard, n, n_error, replicas, sketch, extra,
dead_letters, window_time`` (the rowtime: the window's end minus 1 ms).
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
from jobs.source import routed_source
from jobs.window_batch import WindowBatch

WindowBody = Callable[[WindowBatch, "int | None"], tuple[Any, ...]]

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
    body: WindowBody,
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


def shard_rows(
    t_env: StreamTableEnvironment,
    statements: StatementSet,
    config: JobConfig,
    *,
    name: str,
    topic: str,
    kind: str,
    stage: str,
    body: WindowBody,
) -> Table:
    """Declare one branch: its routed source, windows and aggregate."""
    accepted = routed_source(
        t_env,
        statements,
        name=name,
        topic=topic,
        bootstrap=config.bootstrap,
        group_id=f"{config.group_id}-{name}",
        grace_ms=config.grace_ms,
        bounded=config.bounded,
        properties=config.kafka_properties,
        deadletter_table="deadletter_sink",
    )
    aggregate = window_udaf(body, topic, stage, config.sketch_k)
    return windowed(accepted, config.window_ms, aggregate, kind)
