-- Merge of the per-host partials of `traffic_matrix` into the merged table
-- (schemas/tables/traffic_matrix.md). Spark SQL; reads the view `partials`: every row of
-- partials/traffic_matrix/date=D/hour=HH/host=*/ (extra columns such as the Hive partition
-- column `host` are ignored). Produces exactly the merged file's columns, in its
-- order, sorted as Redline sorts them (bucket, then src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source).
--
-- Same rule as the Swift merge (Sources/Pipeline/PartitionAggregates.swift,
-- TableRows.merge): group by every non-metric column, add every count. The
-- completeness counters add too (each partial row carries its host-bucket's
-- counters, so a merged row covers exactly the hosts that contributed to it) and
-- the ratio is recomputed from the sums, never averaged.

SELECT bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source,
       sum(bytes) AS bytes,
       sum(packets) AS packets,
       -- Null absorbs: a row with an unknown payload (a version-1 flow record) in any partial
       -- has no total (schemas/tables/traffic_matrix.md).
       CASE WHEN count(payload_bytes) = count(*) THEN sum(payload_bytes) END AS payload_bytes,
       sum(flows) AS flows,
       sum(calls) AS calls,
       sum(events_observed) AS events_observed,
       sum(events_lost)     AS events_lost,
       sum(events_lost_shared) AS events_lost_shared,
       -- Share of events not lost, over the host-buckets behind the row; 1 when none.
       CASE WHEN sum(events_observed) + sum(events_lost) = 0 THEN CAST(1 AS DOUBLE)
            ELSE CAST(sum(events_observed) AS DOUBLE) / CAST(sum(events_observed) + sum(events_lost) AS DOUBLE)
       END AS completeness
FROM partials
GROUP BY bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source
ORDER BY bucket_start, bucket_seconds, src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source
