-- One row per latency signal (kind latency.shard or latency.fleet). The key is
-- the signal's identity, so a replayed window replaces the earlier row; the
-- newest load wins. Fleet rows have shard ''. Quantiles are NaN when the
-- signal carried no latency stats.
CREATE TABLE IF NOT EXISTS latency_windows
(
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    kind LowCardinality(String),
    model LowCardinality(String),
    version LowCardinality(String),
    shard LowCardinality(String),
    role LowCardinality(String),
    baseline_version LowCardinality(String),
    n UInt64,
    replicas UInt32,
    p50_ms Float64,
    p90_ms Float64,
    p95_ms Float64,
    p99_ms Float64,
    max_ms Float64,
    p99_lower_ms Float64,
    p99_upper_ms Float64,
    rank_error Float64,
    ttft_p99_ms Nullable(Float64),
    error_rate Float64,
    p99_ratio Nullable(Float64),
    breach UInt8,
    sketch String,
    signal_id String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, kind, shard, window_start)
