-- title: Fleet latency by version
-- Fleet-wide request latency quantiles per model version, one row per
-- (model, version, window): p50, p90, p99 and max in milliseconds, the spans
-- and replicas behind them, the p99 over the baseline version's p99 in the
-- same window, and whether the guard counted the window as a breach.
-- Parameters:
--   model (default NULL) only this model; NULL for every model
--   since (default NULL) first window start to show, UTC; NULL for no bound
--   until (default NULL) window starts before this time, UTC; NULL for no bound
SELECT
    window_start,
    model,
    version,
    role,
    n AS spans,
    replicas,
    p50_ms,
    p90_ms,
    p99_ms,
    max_ms,
    p99_ratio,
    breach
FROM latency_windows FINAL
WHERE kind = 'latency.fleet'
    AND ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)})
    AND ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR window_start >= {since:Nullable(DateTime64(3, 'UTC'))})
    AND ({until:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR window_start < {until:Nullable(DateTime64(3, 'UTC'))})
ORDER BY model, window_start, version
