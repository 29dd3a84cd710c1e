-- title: Shards that stand out
-- Each shard's p99 against the median shard p99 of its model in the same
-- window (every version together), so a few slow replicas on one shard show
-- as a ratio well above 1. One row per (model, version, shard), worst first:
-- the highest and median ratio, the windows at or above min_ratio, and the
-- highest p99 in milliseconds.
-- Parameters:
--   model (default NULL) only this model; NULL for every model
--   since (default NULL) first window start to include, UTC; NULL for no bound
--   until (default NULL) window starts before this time, UTC; NULL for no bound
--   min_ratio (default 1.5) ratio from which a shard's window counts as outlying
--   top (default 20) at most this many shards
SELECT
    model,
    version,
    shard,
    count() AS windows,
    sum(n) AS spans,
    round(max(ratio), 3) AS max_ratio,
    round(quantileExact(0.5)(ratio), 3) AS median_ratio,
    countIf(ratio >= {min_ratio:Float64}) AS outlying_windows,
    max(p99_ms) AS max_p99_ms
FROM
(
    SELECT
        model,
        version,
        shard,
        n,
        p99_ms,
        p99_ms / nullIf(
            median(p99_ms) OVER (PARTITION BY model, window_start), 0
        ) AS ratio
    FROM latency_windows FINAL
    WHERE kind = 'latency.shard'
        AND ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)})
        AND ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL
            OR window_start >= {since:Nullable(DateTime64(3, 'UTC'))})
        AND ({until:Nullable(DateTime64(3, 'UTC'))} IS NULL
            OR window_start < {until:Nullable(DateTime64(3, 'UTC'))})
)
GROUP BY model, version, shard
ORDER BY max_ratio DESC, model, version, shard
LIMIT {top:UInt32}
