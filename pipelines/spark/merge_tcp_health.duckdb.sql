-- Merge of the per-host partials of `tcp_health` into the merged table (schemas/tables/tcp_health.md),
-- DuckDB SQL. Generated from Sources/Pipeline/Tables by
-- `redline dev table-schemas --sql pipelines/spark` (Sources/Pipeline/MergeSQL.swift says what
-- it computes); do not edit. Group key: bucket_start, bucket_seconds, service, peer_service, peer_identity_source.

WITH
totals AS (
  SELECT bucket_start, bucket_seconds, service, peer_service, peer_identity_source,
         sum(retransmits) AS retransmits,
         sum(resets_sent) AS resets_sent,
         sum(resets_received) AS resets_received,
         sum(drops) AS drops,
         sum(drops_policy) AS drops_policy,
         sum(drops_teardown) AS drops_teardown,
         sum(drops_other) AS drops_other,
         sum(id_option_missing) AS id_option_missing,
         sum(events_observed) AS events_observed,
         sum(events_lost) AS events_lost,
         sum(events_lost_shared) AS events_lost_shared
  FROM partials
  GROUP BY bucket_start, bucket_seconds, service, peer_service, peer_identity_source
)

SELECT bucket_start, bucket_seconds, service, peer_service, peer_identity_source,
       retransmits,
       resets_sent,
       resets_received,
       drops,
       drops_policy,
       drops_teardown,
       drops_other,
       id_option_missing,
       events_observed,
       events_lost,
       events_lost_shared,
       -- Share of events not lost, over the host-buckets behind the row; 1 when none.
       CASE WHEN events_observed + events_lost = 0 THEN CAST(1 AS DOUBLE)
            ELSE CAST(events_observed AS DOUBLE) / CAST(events_observed + events_lost AS DOUBLE)
       END AS completeness
FROM totals
ORDER BY bucket_start, bucket_seconds, service, peer_service, peer_identity_source
