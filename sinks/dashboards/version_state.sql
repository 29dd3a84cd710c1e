-- title: Rollout and version state
-- Which versions each model ran in each window: replicas (and the announced
-- target), the share of traffic served, and the rollout's flags — announced,
-- stalled below its target, the fleet split across versions for too long, and
-- converged after a rollback. One row per (model, window, version).
-- Parameters:
--   model (default NULL) only this model; NULL for every model
--   since (default NULL) first window start to show, UTC; NULL for no bound
--   until (default NULL) window starts before this time, UTC; NULL for no bound
SELECT
    window_start,
    model,
    version,
    role,
    replicas,
    target_replicas,
    samples,
    traffic_share,
    announced,
    stalled,
    split_ms,
    split_too_long,
    converged
FROM fleet_versions FINAL
WHERE ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)})
    AND ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR window_start >= {since:Nullable(DateTime64(3, 'UTC'))})
    AND ({until:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR window_start < {until:Nullable(DateTime64(3, 'UTC'))})
ORDER BY model, window_start, version
