-- Records driftline could not use, keyed by where they came from, so reading
-- the dead-letter topic twice stores each letter once. key and payload are
-- the original bytes.
CREATE TABLE IF NOT EXISTS dead_letters
(
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    key String,
    payload String,
    reason LowCardinality(String),
    detail String,
    record_time DateTime64(3, 'UTC'),
    stage LowCardinality(String),
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(record_time)
ORDER BY (source_topic, source_partition, source_offset)
