-- Merge of the per-host partials of `tcp_drops` (schemas/tables/tcp_drops.md), Spark SQL.
-- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
-- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.

WITH
partial AS (
  SELECT *, struct(bucket_start, bucket_seconds, service, reason_code, reason, drop_class) AS k
  FROM partials
),
totals AS (
  SELECT k,
         sum(drops) AS drops,
         sum(events_observed) AS events_observed, sum(events_lost) AS events_lost, sum(events_lost_shared) AS events_lost_shared
  FROM partial
  GROUP BY k
),
-- include: fragment_completeness.sql

SELECT c.k.bucket_start AS bucket_start, c.k.bucket_seconds AS bucket_seconds, c.k.service AS service,
       c.k.reason_code AS reason_code, c.k.reason AS reason, c.k.drop_class AS drop_class, drops,
       events_observed, events_lost, events_lost_shared, completeness
FROM completed c
ORDER BY bucket_start, bucket_seconds, service, reason_code, reason, drop_class
