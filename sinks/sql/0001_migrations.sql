-- The ledger of applied schema versions. Re-running a version is a no-op
-- because the loader skips versions recorded here.
CREATE TABLE IF NOT EXISTS driftline_migrations
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
