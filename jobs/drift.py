"""The drift branch: feature samples to one bundle of feature sketches per
shard window.

Rows stay wide — one per sample, carrying every feature — so Flink's per-row
cost is paid once per sample, not once per feature value. Samples are keyed
and windowed in the JVM like spans (`jobs.source`); a vectorized pandas
aggregate decodes each window's values once and builds every feature's sketch
from the window's columns (`jobs.feature_window`). The branch ends in the
shape of `jobs.shard_rows` with ``sketch`` holding the serialized
`FeatureSketches` bundle.
"""

from __future__ import annotations

from typing import Any

from pyflink.table import StatementSet, StreamTableEnvironment, Table

from jobs.config import JobConfig
from jobs.feature_window import build_feature_window
from jobs.shard_rows import shard_rows
from jobs.window_batch import WindowBatch

KIND = "features"
STAGE = "drift.shard-window"


def _feature_row(batch: WindowBatch, k: int | None) -> tuple[Any, ...]:
    row = build_feature_window(batch, k)
    return (row.n, 0, row.replicas, row.bundle, b"", row.dead_letters)


def feature_shard_rows(
    t_env: StreamTableEnvironment, statements: StatementSet, config: JobConfig
) -> Table:
    """Declare the feature-samples source and return its shard rows."""
    return shard_rows(
        t_env,
        statements,
        config,
        name="features",
        topic=config.features_topic,
        kind=KIND,
        stage=STAGE,
        body=_feature_row,
    )
