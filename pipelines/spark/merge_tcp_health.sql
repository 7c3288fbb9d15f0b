-- Merge of the per-host partials of `tcp_health` (schemas/tables/tcp_health.md), Spark SQL.
-- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
-- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.

WITH
partial AS (
  SELECT *, struct(bucket_start, bucket_seconds, service, peer_service, peer_identity_source) AS k
  FROM partials
),
totals AS (
  SELECT k,
         sum(retransmits) AS retransmits, sum(resets_sent) AS resets_sent,
         sum(resets_received) AS resets_received, sum(drops) AS drops, sum(drops_policy) AS drops_policy,
         sum(drops_teardown) AS drops_teardown, sum(drops_other) AS drops_other,
         sum(id_option_missing) AS id_option_missing,
         sum(events_observed) AS events_observed, sum(events_lost) AS events_lost, sum(events_lost_shared) AS events_lost_shared
  FROM partial
  GROUP BY k
),
-- include: fragment_completeness.sql

SELECT c.k.bucket_start AS bucket_start, c.k.bucket_seconds AS bucket_seconds, c.k.service AS service,
       c.k.peer_service AS peer_service, c.k.peer_identity_source AS peer_identity_source, retransmits,
       resets_sent, resets_received, drops, drops_policy, drops_teardown, drops_other, id_option_missing,
       events_observed, events_lost, events_lost_shared, completeness
FROM completed c
ORDER BY bucket_start, bucket_seconds, service, peer_service, peer_identity_source
