-- One row per rollback decision. event_id is deterministic, so a guard that
-- replays an incident writes the same key and the row is replaced. Evidence
-- is Nested: query it with ARRAY JOIN evidence.
CREATE TABLE IF NOT EXISTS rollback_events
(
    event_id String,
    model LowCardinality(String),
    from_version LowCardinality(String),
    to_version LowCardinality(String),
    reason String,
    baseline_rule LowCardinality(String),
    first_breach_window_start DateTime64(3, 'UTC'),
    decided_window_end DateTime64(3, 'UTC'),
    windows_breached UInt32,
    evidence Nested
    (
        signal LowCardinality(String),
        window_start DateTime64(3, 'UTC'),
        shard String,
        feature String,
        value Float64,
        baseline_value Float64,
        threshold Float64,
        n UInt64
    ),
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (model, event_id)
