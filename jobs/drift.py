"""The drift branch: feature samples to one bundle of feature sketches per
shard window.

Rows stay wide — one per sample, carrying every feature — so Flink's per-row
cost is paid once per sample, not once per feature value. Samples are keyed
and windowed in the JVM like spans (`jobs.source`); a vectorized pandas
aggregate decodes each window's values once and builds every feature's sketch
from the window's columns (`jobs.feature_window`). The branch ends in the
job's uniform shard-row shape with ``sketch`` holding the serialized
`FeatureSketches` bundle.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyflink.table import StatementSet, StreamTableEnvironment, Table
from pyflink.table.udf import udaf

from jobs.config import JobConfig
from jobs.feature_window import build_feature_window
from jobs.latency import SHARD_ROW_TYPE, epoch_ms, windowed
from jobs.source import routed_source

KIND = "features"


def _feature_window_udaf(source_topic: str, k: int | None) -> Any:
    def feature_window(
        payload: pd.Series,
        record_key: pd.Series,
        src_partition: pd.Series,
        src_offset: pd.Series,
        event_ts: pd.Series,
    ) -> tuple[Any, ...]:
        row = build_feature_window(
            payload.tolist(),
            record_key.tolist(),
            src_partition.tolist(),
            src_offset.tolist(),
            epoch_ms(event_ts).tolist(),
            source_topic,
            k,
        )
        return (row.n, 0, row.replicas, row.bundle, b"", row.dead_letters)

    return udaf(feature_window, result_type=SHARD_ROW_TYPE, func_type="pandas")


def feature_shard_rows(
    t_env: StreamTableEnvironment, statements: StatementSet, config: JobConfig
) -> Table:
    """Declare the feature-samples source and return its shard rows."""
    accepted = routed_source(
        t_env,
        statements,
        name="features",
        topic=config.features_topic,
        bootstrap=config.bootstrap,
        group_id=f"{config.group_id}-features",
        grace_ms=config.grace_ms,
        bounded=config.bounded,
        properties=config.kafka_properties,
        deadletter_table="deadletter_sink",
    )
    aggregate = _feature_window_udaf(config.features_topic, config.sketch_k)
    return windowed(accepted, config.window_ms, aggregate, KIND)
