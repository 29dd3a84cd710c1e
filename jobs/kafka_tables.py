"""Flink SQL DDL for the Kafka tables the jobs read and write.

Sources read values as raw bytes: the JVM takes the key, the Kafka timestamp
(the event time) and the ``dl.*`` routing headers as metadata, so records are
keyed and windowed without a trip through Python. Sinks write raw bytes that
the Python stages already encoded as Avro, keyed for partitioning.
"""

from __future__ import annotations

from collections.abc import Mapping


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _with(options: Mapping[str, str]) -> str:
    return ",\n  ".join(f"{_quote(k)} = {_quote(v)}" for k, v in options.items())


def _client_options(bootstrap: str, properties: Mapping[str, str]) -> dict[str, str]:
    options = {"properties.bootstrap.servers": bootstrap}
    options.update({f"properties.{k}": v for k, v in properties.items()})
    return options


def routed_source_ddl(
    table: str,
    *,
    topic: str,
    bootstrap: str,
    group_id: str,
    grace_ms: int,
    bounded: bool,
    properties: Mapping[str, str],
) -> str:
    """A source of raw telemetry values with routing headers and an event-time
    watermark ``grace_ms`` behind the newest timestamp.

    A fresh consumer group starts at the earliest offset; a known one resumes
    from its committed offsets. ``bounded`` stops at the offsets that are the
    latest when the job starts.
    """
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.group.id": group_id,
        "properties.auto.offset.reset": "earliest",
        "scan.startup.mode": "group-offsets",
        "key.format": "raw",
        "key.fields": "record_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
        **_client_options(bootstrap, properties),
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    grace_s = f"{grace_ms / 1000:.3f}"
    return f"""
CREATE TEMPORARY TABLE {table} (
  record_key BYTES,
  payload BYTES,
  headers MAP<STRING, BYTES> METADATA,
  event_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  src_partition INT METADATA FROM 'partition' VIRTUAL,
  src_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  WATERMARK FOR event_ts AS event_ts - INTERVAL '{grace_s}' SECOND
) WITH (
  {_with(options)}
)"""


def control_source_ddl(
    table: str,
    *,
    topic: str,
    bootstrap: str,
    group_id: str,
    bounded: bool,
    properties: Mapping[str, str],
) -> str:
    """A source of a compacted control topic (announcements, profiles).

    It always reads from the earliest offset, since the topic holds the
    current state; its watermark follows the Kafka timestamps so that, once
    idle, it never holds back the telemetry windows it is joined with.
    """
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.group.id": group_id,
        "scan.startup.mode": "earliest-offset",
        "key.format": "raw",
        "key.fields": "record_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
        **_client_options(bootstrap, properties),
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    return f"""
CREATE TEMPORARY TABLE {table} (
  record_key BYTES,
  payload BYTES,
  event_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR event_ts AS event_ts
) WITH (
  {_with(options)}
)"""


def bytes_sink_ddl(
    table: str, *, topic: str, bootstrap: str, properties: Mapping[str, str]
) -> str:
    """A sink of (key, value) byte pairs, at-least-once, partitioned by key."""
    options = {
        "connector": "kafka",
        "topic": topic,
        "key.format": "raw",
        "key.fields": "k",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
        "sink.delivery-guarantee": "at-least-once",
        **_client_options(bootstrap, properties),
    }
    return f"""
CREATE TEMPORARY TABLE {table} (
  k BYTES,
  v BYTES
) WITH (
  {_with(options)}
)"""
