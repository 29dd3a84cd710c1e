-- One row per (model, version, window) from fleet.version signals: which
-- replicas ran the version, the share of traffic it served, and the rollout's
-- state, so a half-finished rollout or a fleet that runs two versions for too
-- long is visible. samples is the signal's n. A replayed window replaces its
-- row; the newest load wins.
CREATE TABLE IF NOT EXISTS fleet_versions
(
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    model LowCardinality(String),
    version LowCardinality(String),
    role LowCardinality(String),
    baseline_version LowCardinality(String),
    replicas UInt32,
    samples UInt64,
    traffic_share Float64,
    announced UInt8,
    target_replicas Nullable(UInt32),
    stalled UInt8,
    split_ms Int64,
    split_too_long UInt8,
    converged UInt8,
    signal_id String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, window_start, version)
