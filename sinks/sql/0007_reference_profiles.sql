-- Reference profiles from the compacted topic driftline.profiles: sketches of
-- a model version's training or validation data. One row per (model, version)
-- survives, the one created last, as on the topic itself. Sketches are the
-- serialized bytes, stored byte for byte in String values; features lists
-- every profiled feature, numeric and categorical.
CREATE TABLE IF NOT EXISTS reference_profiles
(
    model LowCardinality(String),
    version LowCardinality(String),
    profile_id String,
    created DateTime64(3, 'UTC'),
    source String,
    n UInt64,
    features Array(String),
    numeric Map(String, String),
    categorical Map(String, String),
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created)
ORDER BY (model, version)
