"""Routed Kafka sources: records keyed and timed in the JVM, rejects to the
dead-letter topic.

Telemetry topics (spans, feature samples) carry their routing fields in Kafka
headers (``dl.model``, ``dl.version``, ``dl.shard``) and their event time as
the Kafka timestamp, so Flink keys and windows them without decoding a value.
`routed_source` declares such a source and splits it in the JVM:

* records without the routing headers are rejected as ``missing-headers``;
* records whose event time is at or behind the current watermark are rejected
  as ``late``. Lateness is measured against the watermark (``grace_ms`` behind
  the newest event time seen), not against a window's end, so the rule does not
  depend on the window size.

Only rejected rows pass through Python, to be encoded as `DeadLetter` records;
accepted rows stay in the JVM until a window hands them over in one batch.
"""

from __future__ import annotations

import calendar
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from pyflink.table import DataTypes, StatementSet, StreamTableEnvironment, Table
from pyflink.table.expressions import col
from pyflink.table.udf import udf

from jobs.kafka_tables import routed_source_ddl
from schemas import DEADLETTER

log = logging.getLogger(__name__)


def _utc_ms(timestamp: datetime.datetime) -> int:
    """Epoch milliseconds of a naive timestamp in UTC (the job's session zone)."""
    seconds = calendar.timegm(timestamp.utctimetuple())
    return seconds * 1000 + timestamp.microsecond // 1000


def _reject_udf(source_topic: str, stage: str) -> Any:
    def reject(
        payload: bytes | None,
        record_key: bytes | None,
        src_partition: int,
        src_offset: int,
        event_ts: datetime.datetime,
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
                "record_timestamp_ms": _utc_ms(event_ts),
                "stage": stage,
            }
        )

    return udf(reject, result_type=DataTypes.BYTES())


def routed_source(
    t_env: StreamTableEnvironment,
    statements: StatementSet,
    *,
    name: str,
    topic: str,
    bootstrap: str,
    group_id: str,
    grace_ms: int,
    bounded: bool,
    properties: Mapping[str, str],
    deadletter_table: str,
) -> Table:
    """Declare a routed source and send its rejects to ``deadletter_table``.

    Returns:
        The accepted rows: ``record_key, payload, event_ts (rowtime),
        src_partition, src_offset, model, version, shard``.
    """
    t_env.execute_sql(
        routed_source_ddl(
            f"{name}_src",
            topic=topic,
            bootstrap=bootstrap,
            group_id=group_id,
            grace_ms=grace_ms,
            bounded=bounded,
            properties=properties,
        )
    )
    t_env.create_temporary_function(
        f"{name}_reject", _reject_udf(topic, f"{name}.source")
    )
    t_env.create_temporary_view(
        f"{name}_tagged",
        t_env.sql_query(
            f"""
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
            FROM {name}_src
            """
        ),
    )
    statements.add_insert_sql(
        f"""
        INSERT INTO {deadletter_table}
        SELECT record_key, {name}_reject(payload, record_key, src_partition,
          src_offset, CAST(event_ts AS TIMESTAMP(3)), reject_reason,
          CASE reject_reason
            WHEN 'late' THEN CONCAT('event time ', CAST(event_ts AS STRING),
              ' is at or behind the watermark ', watermark_text,
              ' (grace_ms={grace_ms})')
            ELSE 'headers dl.model, dl.version and dl.shard are required'
          END)
        FROM {name}_tagged WHERE reject_reason IS NOT NULL
        """
    )
    return (
        t_env.from_path(f"{name}_tagged")
        .where(col("reject_reason").is_null)
        .select(
            col("record_key"),
            col("payload"),
            col("event_ts"),
            col("src_partition"),
            col("src_offset"),
            col("model"),
            col("version"),
            col("shard"),
        )
    )
