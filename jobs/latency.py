"""The latency job: spans from Kafka to fleet latency signals and rollbacks.

Graph (one Flink job):

1. **Source** `driftline.spans`, raw values; key, Kafka timestamp (event time)
   and ``dl.*`` headers are read in the JVM. Watermark ``grace_ms`` behind
   the newest timestamp; silent partitions stop holding it after ``idle_ms``.
2. **Reject** in the JVM: records without routing headers, and late records
   (event time at or behind the current watermark), go to
   `driftline.deadletter`; only those rows pass through a Python encoder.
3. **Shard windows**: tumbling ``window_ms`` windows per (model, version,
   shard); a vectorized pandas aggregate decodes the window's values once and
   builds its KLL sketches (`jobs.shard_window`). Values that do not decode
   come back with the window as encoded dead letters, which the next stage
   writes out.
4. **Fleet merge and guard**, keyed by model (`jobs.guard_fn`): shard sketches
   merge into fleet sketches per version, the candidate is compared with the
   baseline in the same window, signals go to `driftline.signals` and
   decisions to `driftline.rollbacks`.

Delivery: both output topics are written at least once (a restart from a
checkpoint may repeat the records since it); every signal and rollback carries
a deterministic id, so consumers and the ClickHouse tables deduplicate.

Run locally with ``driftline run``; on a session cluster, ship the project's
packages and run ``flink run -py jobs/latency.py -- --bootstrap HOST:PORT``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import pandas as pd
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import DataTypes, StatementSet, StreamTableEnvironment
from pyflink.table.expressions import col, lit
from pyflink.table.udf import udaf, udf
from pyflink.table.window import Tumble

from jobs.config import LatencyJobConfig
from jobs.guard_fn import (
    OUTPUT_TYPE,
    ROUTE_DEADLETTER,
    ROUTE_ROLLBACK,
    ROUTE_SIGNAL,
    FleetGuardFunction,
)
from jobs.runtime import create_environment
from jobs.shard_window import build_shard_window
from schemas import DEADLETTER

log = logging.getLogger(__name__)

REJECT_STAGE = "latency.source"

SHARD_ROW_TYPE = DataTypes.ROW(
    [
        DataTypes.FIELD("n", DataTypes.BIGINT()),
        DataTypes.FIELD("n_error", DataTypes.BIGINT()),
        DataTypes.FIELD("replicas", DataTypes.INT()),
        DataTypes.FIELD("sketch", DataTypes.BYTES()),
        DataTypes.FIELD("ttft_sketch", DataTypes.BYTES()),
        DataTypes.FIELD("dead_letters", DataTypes.ARRAY(DataTypes.BYTES())),
    ]
)


def _epoch_ms(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).astype("int64") // 1_000_000


def _shard_window_udaf(source_topic: str, k: int | None) -> Any:
    def shard_window(
        payload: pd.Series,
        record_key: pd.Series,
        src_partition: pd.Series,
        src_offset: pd.Series,
        event_ts: pd.Series,
    ) -> tuple[Any, ...]:
        row = build_shard_window(
            payload.tolist(),
            record_key.tolist(),
            src_partition.tolist(),
            src_offset.tolist(),
            _epoch_ms(event_ts).tolist(),
            source_topic,
            k,
        )
        return tuple(row)

    return udaf(shard_window, result_type=SHARD_ROW_TYPE, func_type="pandas")


def _reject_udf(source_topic: str) -> Any:
    def reject(
        payload: bytes | None,
        record_key: bytes | None,
        src_partition: int,
        src_offset: int,
        event_ts: Any,
        reason: str,
        detail: str,
    ) -> bytes:
        log.warning(
            "dead letter reason=%s %s[%d]@%d detail=%s",
            reason,
            source_topic,
            src_partition,
            src_offset,
            detail,
        )
        return DEADLETTER.encode(
            {
                "source_topic": source_topic,
                "source_partition": int(src_partition),
                "source_offset": int(src_offset),
                "key": None if record_key is None else bytes(record_key),
                "payload": b"" if payload is None else bytes(payload),
                "reason": reason,
                "detail": detail,
                "record_timestamp_ms": round(event_ts.timestamp() * 1000),
                "stage": REJECT_STAGE,
            }
        )

    return udf(reject, result_type=DataTypes.BYTES())


def build(
    config: LatencyJobConfig,
    env: StreamExecutionEnvironment,
    t_env: StreamTableEnvironment,
) -> StatementSet:
    """Declare the job's tables and return the statement set that runs it."""
    from jobs.kafka_tables import bytes_sink_ddl, span_source_ddl

    props = config.kafka_properties
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.execute_sql(
        span_source_ddl(
            "spans_src",
            topic=config.spans_topic,
            bootstrap=config.bootstrap,
            group_id=config.group_id,
            grace_ms=config.grace_ms,
            bounded=config.bounded,
            properties=props,
        )
    )
    for table, topic in (
        ("signals_sink", config.signals_topic),
        ("rollbacks_sink", config.rollbacks_topic),
        ("deadletter_sink", config.deadletter_topic),
    ):
        t_env.execute_sql(
            bytes_sink_ddl(
                table, topic=topic, bootstrap=config.bootstrap, properties=props
            )
        )
    t_env.create_temporary_function("reject_span", _reject_udf(config.spans_topic))
    shard_window = _shard_window_udaf(config.spans_topic, config.sketch_k)

    t_env.create_temporary_view(
        "spans_tagged",
        t_env.sql_query(
            """
            SELECT record_key, payload, event_ts, src_partition, src_offset,
              CAST(headers['dl.model'] AS STRING) AS model,
              CAST(headers['dl.version'] AS STRING) AS version,
              CAST(headers['dl.shard'] AS STRING) AS shard,
              CASE
                WHEN headers['dl.model'] IS NULL OR headers['dl.version'] IS NULL
                  OR headers['dl.shard'] IS NULL THEN 'missing-headers'
                WHEN CURRENT_WATERMARK(event_ts) IS NOT NULL
                  AND event_ts <= CURRENT_WATERMARK(event_ts) THEN 'late'
              END AS reject_reason,
              CAST(CURRENT_WATERMARK(event_ts) AS STRING) AS watermark_text
            FROM spans_src
            """
        ),
    )
    statements = t_env.create_statement_set()
    statements.add_insert_sql(
        f"""
        INSERT INTO deadletter_sink
        SELECT record_key, reject_span(payload, record_key, src_partition, src_offset,
          event_ts,
          reject_reason,
          CASE reject_reason
            WHEN 'late' THEN CONCAT('event time ', CAST(event_ts AS STRING),
              ' is at or behind the watermark ', watermark_text,
              ' (grace_ms={config.grace_ms})')
            ELSE 'headers dl.model, dl.version and dl.shard are required'
          END)
        FROM spans_tagged WHERE reject_reason IS NOT NULL
        """
    )

    accepted = t_env.from_path("spans_tagged").where(col("reject_reason").is_null)
    windows = (
        accepted.window(
            Tumble.over(lit(config.window_ms).milli).on(col("event_ts")).alias("w")
        )
        .group_by(col("w"), col("model"), col("version"), col("shard"))
        .select(
            col("model"),
            col("version"),
            col("shard"),
            col("w").rowtime.alias("window_time"),
            shard_window(
                col("payload"),
                col("record_key"),
                col("src_partition"),
                col("src_offset"),
                col("event_ts"),
            ).alias("r"),
        )
    )
    shard_rows = windows.select(
        col("model"),
        col("version"),
        col("shard"),
        col("window_time"),
        col("r").get("n").alias("n"),
        col("r").get("n_error").alias("n_error"),
        col("r").get("replicas").alias("replicas"),
        col("r").get("sketch").alias("sketch"),
        col("r").get("ttft_sketch").alias("ttft_sketch"),
        col("r").get("dead_letters").alias("dead_letters"),
    )
    t_env.create_temporary_view("shard_rows", shard_rows)
    # The window's bounds reach the guard as the record timestamp (window end
    # minus one millisecond), which keeps them in epoch milliseconds, free of
    # any session time zone.
    guard_input = t_env.to_data_stream(
        shard_rows.select(
            col("model"),
            col("version"),
            col("shard"),
            col("n"),
            col("n_error"),
            col("replicas"),
            col("sketch"),
            col("ttft_sketch"),
            col("dead_letters"),
            col("window_time"),
        )
    )
    decisions = guard_input.key_by(lambda r: r.model).process(
        FleetGuardFunction(config.policy, config.window_ms), output_type=OUTPUT_TYPE
    )
    decisions_table = t_env.from_data_stream(decisions)
    t_env.create_temporary_view("guard_out", decisions_table)
    statements.add_insert_sql(
        f"INSERT INTO signals_sink SELECT k, v FROM guard_out "
        f"WHERE route = '{ROUTE_SIGNAL}'"
    )
    statements.add_insert_sql(
        f"INSERT INTO rollbacks_sink SELECT k, v FROM guard_out "
        f"WHERE route = '{ROUTE_ROLLBACK}'"
    )
    statements.add_insert_sql(
        f"INSERT INTO deadletter_sink SELECT k, v FROM guard_out "
        f"WHERE route = '{ROUTE_DEADLETTER}'"
    )
    return statements


def run(config: LatencyJobConfig, *, wait: bool = True) -> Any:
    """Build and submit the job; block until it ends when ``wait``.

    Returns:
        The `TableResult` of the submission (its job client can cancel it).
    """
    log.info("latency job starting %s", config.describe())
    env, t_env = create_environment(
        parallelism=config.parallelism,
        checkpoint_ms=config.checkpoint_ms,
        idle_ms=config.idle_ms,
    )
    result = build(config, env, t_env).execute()
    if wait:
        result.wait()
        log.info("latency job finished")
    return result


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``flink run -py jobs/latency.py`` and ``python -m``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--window-ms", type=int, default=10_000)
    parser.add_argument("--grace-ms", type=int, default=2_000)
    parser.add_argument("--bounded", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    run(
        LatencyJobConfig(
            bootstrap=args.bootstrap,
            window_ms=args.window_ms,
            grace_ms=args.grace_ms,
            bounded=args.bounded,
        )
    )


if __name__ == "__main__":
    main()
