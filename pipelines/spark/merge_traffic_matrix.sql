-- Merge of the per-host partials of `traffic_matrix` (schemas/tables/traffic_matrix.md), Spark SQL.
-- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
-- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.

WITH
partial AS (
  SELECT *, struct(bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source) AS k
  FROM partials
),
totals AS (
  SELECT k,
         sum(bytes) AS bytes, sum(packets) AS packets,
         CASE WHEN count(payload_bytes) = count(*) THEN sum(payload_bytes) END AS payload_bytes,
         sum(flows) AS flows, sum(calls) AS calls,
         sum(events_observed) AS events_observed, sum(events_lost) AS events_lost, sum(events_lost_shared) AS events_lost_shared
  FROM partial
  GROUP BY k
),
-- include: fragment_completeness.sql

SELECT c.k.bucket_start AS bucket_start, c.k.bucket_seconds AS bucket_seconds, c.k.src_dc AS src_dc,
       c.k.dst_dc AS dst_dc, c.k.src_service AS src_service, c.k.dst_service AS dst_service,
       c.k.l4_protocol AS l4_protocol, c.k.observer AS observer,
       c.k.peer_identity_source AS peer_identity_source, bytes, packets, payload_bytes, flows, calls,
       events_observed, events_lost, events_lost_shared, completeness
FROM completed c
ORDER BY bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source
