-- Merge of the per-host partials of `tcp_drops` into the merged table
-- (schemas/tables/tcp_drops.md). Spark SQL; reads the view `partials`: every row of
-- partials/tcp_drops/date=D/hour=HH/host=*/ (extra columns such as the Hive partition
-- column `host` are ignored). Produces exactly the merged file's columns, in its
-- order, sorted as Redline sorts them (bucket, then service and the numeric
-- reason_code). `reason` is the code's name and `drop_class` its class, so grouping by
-- them adds no groups.
--
-- Same rule as the Swift merge (Sources/Pipeline/PartitionAggregates.swift,
-- TableRows.merge): group by every non-metric column, add every count. The
-- completeness counters add too (each partial row carries its host-bucket's
-- counters, so a merged row covers exactly the hosts that contributed to it) and
-- the ratio is recomputed from the sums, never averaged.

SELECT bucket_start, bucket_seconds, service, reason_code, reason, drop_class,
       sum(drops) AS drops,
       sum(events_observed) AS events_observed,
       sum(events_lost)     AS events_lost,
       sum(events_lost_shared) AS events_lost_shared,
       -- Share of events not lost, over the host-buckets behind the row; 1 when none.
       CASE WHEN sum(events_observed) + sum(events_lost) = 0 THEN CAST(1 AS DOUBLE)
            ELSE CAST(sum(events_observed) AS DOUBLE) / CAST(sum(events_observed) + sum(events_lost) AS DOUBLE)
       END AS completeness
FROM partials
GROUP BY bucket_start, bucket_seconds, service, reason_code, reason, drop_class
ORDER BY bucket_start, bucket_seconds, service, reason_code, reason, drop_class
