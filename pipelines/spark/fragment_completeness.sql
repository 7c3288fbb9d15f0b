-- Fragment: `totals` plus the share of events not lost over the host-buckets behind each row,
-- 1 when none (recomputed from the summed counters, never averaged).
-- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
-- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.
completed AS (
  SELECT *,
         CASE WHEN events_observed + events_lost = 0 THEN CAST(1 AS DOUBLE)
              ELSE CAST(events_observed AS DOUBLE) / CAST(events_observed + events_lost AS DOUBLE)
         END AS completeness
  FROM totals
)
