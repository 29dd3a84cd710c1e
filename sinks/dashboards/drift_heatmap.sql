-- title: Drift heatmap
-- One cell per (feature, window) of each model version and comparison
-- (baseline: candidate against the baseline version in the same window;
-- reference: live traffic against the registered reference profile). score
-- is the test statistic over its critical value, so 1 is the drift line;
-- drifted_corrected is the verdict after the multiple-test correction.
-- Parameters:
--   model (default NULL) only this model; NULL for every model
--   version (default NULL) only this version; NULL for every version
--   comparison (default NULL) baseline or reference; NULL for both
--   since (default NULL) first window start to show, UTC; NULL for no bound
--   until (default NULL) window starts before this time, UTC; NULL for no bound
SELECT
    window_start,
    model,
    version,
    comparison,
    feature,
    feature_kind,
    method,
    statistic,
    critical_value,
    round(statistic / nullIf(critical_value, 0), 4) AS score,
    p_value,
    psi,
    n_current,
    missing_rate,
    drifted,
    drifted_corrected
FROM drift_results FINAL
WHERE ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)})
    AND ({version:Nullable(String)} IS NULL
        OR version = {version:Nullable(String)})
    AND ({comparison:Nullable(String)} IS NULL
        OR comparison = {comparison:Nullable(String)})
    AND ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR window_start >= {since:Nullable(DateTime64(3, 'UTC'))})
    AND ({until:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR window_start < {until:Nullable(DateTime64(3, 'UTC'))})
ORDER BY model, version, comparison, feature, window_start
