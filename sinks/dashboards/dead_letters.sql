-- title: Dead letters by reason
-- Records driftline could not use, counted by reason, source topic and the
-- stage that gave up on them, most frequent first, with the first and last
-- record time and one example detail.
-- Parameters:
--   since (default NULL) records at or after this time, UTC; NULL for no bound
--   until (default NULL) records before this time, UTC; NULL for no bound
SELECT
    reason,
    source_topic,
    stage,
    count() AS letters,
    min(record_time) AS first_record_time,
    max(record_time) AS last_record_time,
    any(detail) AS example_detail
FROM dead_letters FINAL
WHERE ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR record_time >= {since:Nullable(DateTime64(3, 'UTC'))})
    AND ({until:Nullable(DateTime64(3, 'UTC'))} IS NULL
        OR record_time < {until:Nullable(DateTime64(3, 'UTC'))})
GROUP BY reason, source_topic, stage
ORDER BY letters DESC, reason, source_topic, stage
