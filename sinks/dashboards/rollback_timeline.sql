-- title: Rollback timeline with evidence
-- Every rollback decision in time order, one row per item of its evidence
-- (an event without evidence still gets one row, with empty evidence
-- columns): which version was left for which, why, and the numbers the guard
-- saw — value against baseline value and threshold, and for drift evidence
-- the test's p-value.
-- Parameters:
--   model (default NULL) only this model; NULL for every model
--   since (default NULL) decisions at or after this time, UTC; NULL for no bound
--   until (default NULL) decisions before this time, UTC; NULL for no bound
SELECT
    decided_window_end,
    model,
    from_version,
    to_version,
    reason,
    baseline_rule,
    first_breach_window_start,
    windows_breached,
    event_id,
    evidence.signal AS evidence_signal,
    evidence.window_start AS evidence_window_start,
    evidence.shard AS evidence_shard,
    evidence.feature AS evidence_feature,
    evidence.value AS evidence_value,
    evidence.baseline_value AS evidence_baseline_value,
    evidence.threshold AS evidence_threshold,
    evidence.n AS evidence_n,
    evidence.p_value AS evidence_p_value
FROM rollback_events FINAL
LEFT ARRAY JOIN evidence
WHERE ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)})
    AND ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR decided_window_end >= {since:Nullable(DateTime64(3, 'UTC'))})
    AND ({until:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR decided_window_end < {until:Nullable(DateTime64(3, 'UTC'))})
ORDER BY decided_window_end, event_id, evidence_window_start
