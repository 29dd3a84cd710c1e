-- One row per drift test (signal kind drift.fleet): a feature of a model
-- version in one window, compared either with the baseline version in the same
-- window (comparison 'baseline') or with a registered reference profile
-- (comparison 'reference'). The key is the test's identity, so a replayed
-- window replaces the earlier row; the newest load wins. psi is NULL when the
-- job did not compute it.
CREATE TABLE IF NOT EXISTS drift_results
(
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    feature_kind LowCardinality(String),
    comparison LowCardinality(String),
    reference_version LowCardinality(String),
    role LowCardinality(String),
    baseline_version LowCardinality(String),
    method LowCardinality(String),
    statistic Float64,
    critical_value Float64,
    p_value Float64,
    psi Nullable(Float64),
    n_reference UInt64,
    n_current UInt64,
    sketch_error Float64,
    missing_rate Float64,
    drifted UInt8,
    drifted_corrected UInt8,
    signal_id String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, comparison, feature, window_start)
