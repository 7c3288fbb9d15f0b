-- Merge of the per-host partials of `red_route` into the merged table (schemas/tables/red_route.md),
-- DuckDB SQL. Generated from Sources/Pipeline/Tables by
-- `redline dev table-schemas --sql pipelines/spark` (Sources/Pipeline/MergeSQL.swift says what
-- it computes); do not edit. Group key: bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer.

WITH
-- Each partial row plus the scale its group's merged histogram will have: the smallest
-- (coarsest) scale among the group's partials.
partial AS (
  SELECT *, min(latency_scale) OVER (PARTITION BY bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer) AS merged_scale
  FROM partials
),
totals AS (
  SELECT bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer,
         sum(requests) AS requests,
         sum(errors) AS errors,
         sum(client_errors) AS client_errors,
         sum(request_bytes) AS request_bytes,
         sum(response_bytes) AS response_bytes,
         min(merged_scale) AS latency_scale,
         sum(latency_zero_count) AS latency_zero_count,
         sum(latency_sum_ns) AS latency_sum_ns,
         min(latency_min_ns) AS latency_min_ns,
         max(latency_max_ns) AS latency_max_ns,
         sum(events_observed) AS events_observed,
         sum(events_lost) AS events_lost,
         sum(events_lost_shared) AS events_lost_shared
  FROM partial
  GROUP BY bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer
),
-- One row per non-empty bucket of every partial, re-indexed at the merged scale:
-- latency_counts[pos] (0-based) is bucket latency_offset + pos; from scale s to the coarser m,
-- bucket i becomes i >> (s - m) (arithmetic: floor(i / 2^(s-m)), negative i too).
buckets AS (
  SELECT bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer, idx, sum(n) AS n
  FROM (
    SELECT p.bucket_start, p.bucket_seconds, p.service, p.protocol, p.domain, p.route, p.request_rule, p.observer,
           ((p.latency_offset + b.pos) >> (p.latency_scale - p.merged_scale)) AS idx,
           b.n
    FROM partial p
    CROSS JOIN LATERAL (SELECT generate_subscripts(p.latency_counts, 1) - 1 AS pos, unnest(p.latency_counts) AS n) b
    WHERE b.n > 0
  ) exploded
  GROUP BY bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer, idx
),

-- Running count over the buckets in index order, starting from the zero bucket.
ranked AS (
  SELECT b.bucket_start, b.bucket_seconds, b.service, b.protocol, b.domain, b.route, b.request_rule, b.observer, b.idx, b.n,
         t.latency_zero_count
           + sum(b.n) OVER (PARTITION BY b.bucket_start, b.bucket_seconds, b.service, b.protocol, b.domain, b.route, b.request_rule, b.observer
                            ORDER BY b.idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_or_below,
         t.latency_zero_count
           + sum(b.n) OVER (PARTITION BY b.bucket_start, b.bucket_seconds, b.service, b.protocol, b.domain, b.route, b.request_rule, b.observer) AS total
  FROM buckets b
  JOIN totals t ON b.bucket_start = t.bucket_start AND b.bucket_seconds = t.bucket_seconds AND b.service = t.service AND b.protocol = t.protocol AND b.domain = t.domain AND b.route = t.route AND b.request_rule = t.request_rule AND b.observer = t.observer
),

-- Per group: the dense index range, the counts by index, and for each quantile the
-- first bucket whose running count reaches its rank.
histogram AS (
  SELECT bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer,
         min(idx) AS first_index,
         max(idx) AS last_index,
         map_from_entries(list(row(idx, n))) AS count_by_index,
         min(CASE WHEN at_or_below >= greatest(1, ceil(CAST(0.5 AS DOUBLE) * CAST(total AS DOUBLE))) THEN idx END) AS p50_ns_index,
         min(CASE WHEN at_or_below >= greatest(1, ceil(CAST(0.9 AS DOUBLE) * CAST(total AS DOUBLE))) THEN idx END) AS p90_ns_index,
         min(CASE WHEN at_or_below >= greatest(1, ceil(CAST(0.99 AS DOUBLE) * CAST(total AS DOUBLE))) THEN idx END) AS p99_ns_index,
         min(total) AS total
  FROM ranked
  GROUP BY bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer
),

-- Both halves side by side; a group whose histograms hold only zeros has no bucket rows.
merged AS (
  SELECT t.*,
         h.first_index, h.last_index, h.count_by_index,
         h.p50_ns_index, h.p90_ns_index, h.p99_ns_index,
         coalesce(h.total, t.latency_zero_count) AS total,
         -- 2^-scale: a bucket's representative value base^(index + 0.5) is computed as
         -- 2^(index * 2^-scale) * 2^(0.5 * 2^-scale), as ExponentialHistogram.quantile does.
         power(CAST(2 AS DOUBLE), CAST(-t.latency_scale AS DOUBLE)) AS inv_buckets_per_octave
  FROM totals t
  LEFT JOIN histogram h ON h.bucket_start = t.bucket_start AND h.bucket_seconds = t.bucket_seconds AND h.service = t.service AND h.protocol = t.protocol AND h.domain = t.domain AND h.route = t.route AND h.request_rule = t.request_rule AND h.observer = t.observer
)

SELECT bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer,
       requests,
       errors,
       client_errors,
       request_bytes,
       response_bytes,
       latency_scale,
       latency_zero_count,
       -- Trimmed: the offset is the first non-zero bucket; 0 with an empty list.
       coalesce(first_index, 0) AS latency_offset,
       coalesce(list_transform(generate_series(first_index, last_index), i -> coalesce(count_by_index[i], CAST(0 AS BIGINT))),
                CAST([] AS BIGINT[])) AS latency_counts,
       latency_sum_ns,
       latency_min_ns,
       latency_max_ns,
       -- Quantile 0.5: NULL for an empty histogram; 0 if the rank falls among the zeros; else
       -- the representative value of the bucket holding the rank, clamped to [min, max].
       CASE WHEN total = 0 THEN NULL
            WHEN greatest(1, ceil(CAST(0.5 AS DOUBLE) * CAST(total AS DOUBLE))) <= latency_zero_count THEN CAST(0 AS DOUBLE)
            ELSE least(greatest(power(CAST(2 AS DOUBLE), p50_ns_index * inv_buckets_per_octave)
                                  * power(CAST(2 AS DOUBLE), CAST(0.5 AS DOUBLE) * inv_buckets_per_octave),
                                CAST(latency_min_ns AS DOUBLE)),
                       CAST(latency_max_ns AS DOUBLE))
       END AS p50_ns,
       -- Quantile 0.9: NULL for an empty histogram; 0 if the rank falls among the zeros; else
       -- the representative value of the bucket holding the rank, clamped to [min, max].
       CASE WHEN total = 0 THEN NULL
            WHEN greatest(1, ceil(CAST(0.9 AS DOUBLE) * CAST(total AS DOUBLE))) <= latency_zero_count THEN CAST(0 AS DOUBLE)
            ELSE least(greatest(power(CAST(2 AS DOUBLE), p90_ns_index * inv_buckets_per_octave)
                                  * power(CAST(2 AS DOUBLE), CAST(0.5 AS DOUBLE) * inv_buckets_per_octave),
                                CAST(latency_min_ns AS DOUBLE)),
                       CAST(latency_max_ns AS DOUBLE))
       END AS p90_ns,
       -- Quantile 0.99: NULL for an empty histogram; 0 if the rank falls among the zeros; else
       -- the representative value of the bucket holding the rank, clamped to [min, max].
       CASE WHEN total = 0 THEN NULL
            WHEN greatest(1, ceil(CAST(0.99 AS DOUBLE) * CAST(total AS DOUBLE))) <= latency_zero_count THEN CAST(0 AS DOUBLE)
            ELSE least(greatest(power(CAST(2 AS DOUBLE), p99_ns_index * inv_buckets_per_octave)
                                  * power(CAST(2 AS DOUBLE), CAST(0.5 AS DOUBLE) * inv_buckets_per_octave),
                                CAST(latency_min_ns AS DOUBLE)),
                       CAST(latency_max_ns AS DOUBLE))
       END AS p99_ns,
       events_observed,
       events_lost,
       events_lost_shared,
       -- Share of events not lost, over the host-buckets behind the row; 1 when none.
       CASE WHEN events_observed + events_lost = 0 THEN CAST(1 AS DOUBLE)
            ELSE CAST(events_observed AS DOUBLE) / CAST(events_observed + events_lost AS DOUBLE)
       END AS completeness
FROM merged
ORDER BY bucket_start, bucket_seconds, service, protocol, domain, route, request_rule, observer
