-- Merge of the per-host partials of `dns_names` (schemas/tables/dns_names.md), Spark SQL.
-- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
-- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.

WITH
partial AS (
  SELECT *, struct(bucket_start, bucket_seconds, client_service, query_name, query_type, response_code) AS k
  FROM partials
),
totals AS (
  SELECT k,
         sum(requests) AS requests, sum(errors) AS errors, sum(client_errors) AS client_errors,
         sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes,
         min(latency_scale) AS latency_scale, sum(latency_zero_count) AS latency_zero_count,
         sum(latency_sum_ns) AS latency_sum_ns, min(latency_min_ns) AS latency_min_ns,
         max(latency_max_ns) AS latency_max_ns,
         sum(events_observed) AS events_observed, sum(events_lost) AS events_lost, sum(events_lost_shared) AS events_lost_shared
  FROM partial
  GROUP BY k
),
-- include: fragment_histogram_latency_counts.sql
-- include: fragment_completeness.sql

SELECT c.k.bucket_start AS bucket_start, c.k.bucket_seconds AS bucket_seconds,
       c.k.client_service AS client_service, c.k.query_name AS query_name, c.k.query_type AS query_type,
       c.k.response_code AS response_code, requests, errors, client_errors, request_bytes, response_bytes,
       latency_scale, latency_zero_count, latency_offset, latency_counts, latency_sum_ns, latency_min_ns,
       latency_max_ns, p50_ns, p90_ns, p99_ns, events_observed, events_lost, events_lost_shared,
       completeness
FROM completed c
JOIN histogram_columns hc ON hc.k = c.k
JOIN quantiles q ON q.k = c.k
ORDER BY bucket_start, bucket_seconds, client_service, query_name, query_type, response_code
