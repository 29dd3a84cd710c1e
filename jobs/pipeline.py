"""The driftline stream job: telemetry in, fleet signals and rollbacks out.

Graph (one Flink job):

1. **Sources** ``driftline.spans`` and ``driftline.features``: raw values,
   keyed and timed in the JVM from the ``dl.*`` headers and Kafka timestamps.
   Records without routing headers, and late records, go to
   ``driftline.deadletter`` (`jobs.source`).
2. **Shard windows**: tumbling ``window_ms`` windows per (model, version,
   shard); vectorized pandas aggregates decode each window once and sketch it
   (`jobs.latency`, `jobs.drift`). Values that do not decode come back with
   the window as dead letters.
3. **Fleet merge and guard**, keyed by model (`jobs.guard_fn`): shard
   sketches merge per version, candidates are compared with the baseline in
   the same window and with reference profiles, and one guard per model turns
   latency and drift verdicts into decisions. Rollout announcements
   (``driftline.deployments``) and reference profiles (``driftline.profiles``)
   reach the guard as keyed control records and apply without a restart.
4. **Sinks**: signals to ``driftline.signals``, decisions to
   ``driftline.rollbacks``, rejects to ``driftline.deadletter``.

Delivery: every output topic is written at least once (a restart from a
checkpoint may repeat what was written since it). Signals and rollback events
carry deterministic ids, so consumers and the ClickHouse tables deduplicate;
dead letters carry their source topic, partition and offset for the same use.

Run locally with ``driftline run``; on a session cluster, ship the project's
packages (``-pyfs``) and run ``flink run -py jobs/pipeline.py --bootstrap
HOST:PORT``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StatementSet, StreamTableEnvironment, Table
from pyflink.table.expressions import col, lit

from jobs.config import JobConfig
from jobs.drift import feature_shard_rows
from jobs.guard_fn import (
    CONTROL_DEPLOYMENT,
    CONTROL_PROFILE,
    CONTROL_TYPE,
    OUTPUT_TYPE,
    ROUTE_DEADLETTER,
    ROUTE_ROLLBACK,
    ROUTE_SIGNAL,
    FleetGuardFunction,
    control_model,
)
from jobs.kafka_tables import bytes_sink_ddl, control_source_ddl
from jobs.latency import latency_shard_rows
from jobs.runtime import create_environment

log = logging.getLogger(__name__)


def _control_rows(t_env: StreamTableEnvironment, config: JobConfig) -> Table:
    tables = []
    for route, topic in (
        (CONTROL_DEPLOYMENT, config.deployments_topic),
        (CONTROL_PROFILE, config.profiles_topic),
    ):
        t_env.execute_sql(
            control_source_ddl(
                f"{route}_src",
                topic=topic,
                bootstrap=config.bootstrap,
                group_id=f"{config.group_id}-{route}",
                bounded=config.bounded,
                properties=config.kafka_properties,
            )
        )
        tables.append(
            t_env.from_path(f"{route}_src").select(
                lit(route).alias("route"), col("payload"), col("event_ts")
            )
        )
    return tables[0].union_all(tables[1])


def build(
    config: JobConfig,
    env: StreamExecutionEnvironment,
    t_env: StreamTableEnvironment,
) -> StatementSet:
    """Declare the job's tables and streams; return the statement set to run."""
    t_env.get_config().set("table.local-time-zone", "UTC")
    for table, topic in (
        ("signals_sink", config.signals_topic),
        ("rollbacks_sink", config.rollbacks_topic),
        ("deadletter_sink", config.deadletter_topic),
    ):
        t_env.execute_sql(
            bytes_sink_ddl(
                table,
                topic=topic,
                bootstrap=config.bootstrap,
                properties=config.kafka_properties,
            )
        )
    statements = t_env.create_statement_set()
    branches = []
    if config.latency:
        branches.append(latency_shard_rows(t_env, statements, config))
    if config.drift:
        branches.append(feature_shard_rows(t_env, statements, config))
    shard_rows = (
        branches[0] if len(branches) == 1 else branches[0].union_all(branches[1])
    )

    # A window's bounds reach the guard as the record timestamp (window end
    # minus one millisecond), in epoch milliseconds, free of any time zone.
    telemetry = t_env.to_data_stream(shard_rows)
    # Control rows arrive without field names: (route, payload, event_ts).
    control = t_env.to_data_stream(_control_rows(t_env, config)).map(
        lambda r: control_model(r[0], r[1]), output_type=CONTROL_TYPE
    )
    decisions = (
        telemetry.connect(control)
        .key_by(lambda r: r.model, lambda r: r[0])
        .process(
            FleetGuardFunction(config.policy, config.window_ms), output_type=OUTPUT_TYPE
        )
    )
    t_env.create_temporary_view("guard_out", t_env.from_data_stream(decisions))
    for sink, route in (
        ("signals_sink", ROUTE_SIGNAL),
        ("rollbacks_sink", ROUTE_ROLLBACK),
        ("deadletter_sink", ROUTE_DEADLETTER),
    ):
        statements.add_insert_sql(
            f"INSERT INTO {sink} SELECT k, v FROM guard_out WHERE route = '{route}'"
        )
    return statements


def run(config: JobConfig, *, wait: bool = True) -> Any:
    """Build and submit the job; block until it ends when ``wait``.

    Returns:
        The `TableResult` of the submission (its job client can cancel it).
    """
    log.info("driftline job starting %s", config.describe())
    env, t_env = create_environment(
        parallelism=config.parallelism,
        checkpoint_ms=config.checkpoint_ms,
        idle_ms=config.idle_ms,
        restart=not config.bounded,
    )
    result = build(config, env, t_env).execute()
    if wait:
        result.wait()
        log.info("driftline job finished")
    return result


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``flink run -py jobs/pipeline.py``."""
    parser = argparse.ArgumentParser(description="driftline stream job")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--window-ms", type=int, default=10_000)
    parser.add_argument("--grace-ms", type=int, default=2_000)
    parser.add_argument("--bounded", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    run(
        JobConfig(
            bootstrap=args.bootstrap,
            window_ms=args.window_ms,
            grace_ms=args.grace_ms,
            bounded=args.bounded,
        )
    )


if __name__ == "__main__":
    main()
