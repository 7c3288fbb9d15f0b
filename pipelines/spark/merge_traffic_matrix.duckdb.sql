-- Merge of the per-host partials of `traffic_matrix` into the merged table (schemas/tables/traffic_matrix.md),
-- DuckDB SQL. Generated from Sources/Pipeline/Tables by
-- `redline dev table-schemas --sql pipelines/spark` (Sources/Pipeline/MergeSQL.swift says what
-- it computes); do not edit. Group key: bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source.

WITH
totals AS (
  SELECT bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source,
         sum(bytes) AS bytes,
         sum(packets) AS packets,
         CASE WHEN count(payload_bytes) = count(*) THEN sum(payload_bytes) END AS payload_bytes,
         sum(flows) AS flows,
         sum(calls) AS calls,
         sum(events_observed) AS events_observed,
         sum(events_lost) AS events_lost,
         sum(events_lost_shared) AS events_lost_shared
  FROM partials
  GROUP BY bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source
)

SELECT bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source,
       bytes,
       packets,
       payload_bytes,
       flows,
       calls,
       events_observed,
       events_lost,
       events_lost_shared,
       -- Share of events not lost, over the host-buckets behind the row; 1 when none.
       CASE WHEN events_observed + events_lost = 0 THEN CAST(1 AS DOUBLE)
            ELSE CAST(events_observed AS DOUBLE) / CAST(events_observed + events_lost AS DOUBLE)
       END AS completeness
FROM totals
ORDER BY bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source
