-- Merge of the per-host partials of `tcp_drops` into the merged table (schemas/tables/tcp_drops.md),
-- Spark SQL. Generated from Sources/Pipeline/Tables by
-- `redline dev table-schemas --sql pipelines/spark` (Sources/Pipeline/MergeSQL.swift says what
-- it computes); do not edit. Group key: bucket_start, bucket_seconds, service, reason_code, reason, drop_class.

WITH
totals AS (
  SELECT bucket_start, bucket_seconds, service, reason_code, reason, drop_class,
         sum(drops) AS drops,
         sum(events_observed) AS events_observed,
         sum(events_lost) AS events_lost,
         sum(events_lost_shared) AS events_lost_shared
  FROM partials
  GROUP BY bucket_start, bucket_seconds, service, reason_code, reason, drop_class
)

SELECT bucket_start, bucket_seconds, service, reason_code, reason, drop_class,
       drops,
       events_observed,
       events_lost,
       events_lost_shared,
       -- Share of events not lost, over the host-buckets behind the row; 1 when none.
       CASE WHEN events_observed + events_lost = 0 THEN CAST(1 AS DOUBLE)
            ELSE CAST(events_observed AS DOUBLE) / CAST(events_observed + events_lost AS DOUBLE)
       END AS completeness
FROM totals
ORDER BY bucket_start, bucket_seconds, service, reason_code, reason, drop_class
