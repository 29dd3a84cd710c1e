-- Drift evidence carries the test's p-value; latency evidence has none (NULL).
ALTER TABLE rollback_events
    ADD COLUMN IF NOT EXISTS `evidence.p_value` Array(Nullable(Float64))
    AFTER `evidence.n`
