-- Fragment: the merge of the histogram in latency_scale, latency_zero_count, latency_offset, latency_counts, latency_min_ns, latency_max_ns,
-- and its quantiles p50_ns, p90_ns, p99_ns.
-- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
-- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.
levels AS (
  SELECT * FROM VALUES (CAST(0.5 AS DOUBLE), 'p50_ns'), (CAST(0.9 AS DOUBLE), 'p90_ns'), (CAST(0.99 AS DOUBLE), 'p99_ns')
    AS levels(q, name)
),
-- One row per non-empty bucket of every partial, re-indexed at the group's merged scale
-- (totals.latency_scale, the coarsest): latency_counts[pos] (0-based) is bucket latency_offset + pos; from
-- scale s to the coarser m, bucket i becomes i >> (s - m) (arithmetic: floor(i / 2^(s-m))).
buckets AS (
  SELECT k, idx, sum(n) AS n
  FROM (
    SELECT p.k, shiftright(p.latency_offset + b.pos, p.latency_scale - t.latency_scale) AS idx, b.n
    FROM partial p
    JOIN totals t ON t.k = p.k
    LATERAL VIEW posexplode(p.latency_counts) b AS pos, n
    WHERE b.n > 0
  ) exploded
  GROUP BY k, idx
),
-- Running count over the buckets in index order, starting from the zero bucket.
ranked AS (
  SELECT b.k, b.idx, b.n,
         t.latency_zero_count + sum(b.n) OVER (PARTITION BY b.k ORDER BY b.idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           AS at_or_below,
         t.latency_zero_count + sum(b.n) OVER (PARTITION BY b.k) AS total
  FROM buckets b
  JOIN totals t ON t.k = b.k
),
-- Dense and trimmed: the offset is the first non-zero bucket; 0 with an empty list.
histogram_columns AS (
  SELECT t.k,
         coalesce(d.first_index, 0) AS latency_offset,
         coalesce(transform(sequence(d.first_index, d.last_index), i -> coalesce(d.count_by_index[i], CAST(0 AS BIGINT))),
                  CAST(array() AS ARRAY<BIGINT>)) AS latency_counts
  FROM totals t
  LEFT JOIN (
    SELECT k, min(idx) AS first_index, max(idx) AS last_index, map_from_entries(collect_list(struct(idx, n))) AS count_by_index
    FROM ranked
    GROUP BY k
  ) d ON d.k = t.k
),
-- Quantile q: NULL for an empty histogram; 0 if its rank max(1, ceil(q * count)) (in DOUBLE,
-- as Swift computes it) falls among the zeros; else the representative value of the first
-- bucket whose running count reaches the rank, 2^(i * 2^-scale) * 2^(0.5 * 2^-scale) (as
-- ExponentialHistogram.quantile computes it), clamped to [min, max].
quantile_index AS (
  SELECT r.k, l.name, min(r.total) AS total,
         min(CASE WHEN r.at_or_below >= greatest(1, ceil(l.q * CAST(r.total AS DOUBLE))) THEN r.idx END) AS idx
  FROM ranked r
  CROSS JOIN levels l
  GROUP BY r.k, l.name
),
quantile AS (
  SELECT t.k, l.name,
         CASE WHEN coalesce(qi.total, t.latency_zero_count) = 0 THEN NULL
              WHEN greatest(1, ceil(l.q * CAST(coalesce(qi.total, t.latency_zero_count) AS DOUBLE))) <= t.latency_zero_count
                THEN CAST(0 AS DOUBLE)
              ELSE least(greatest(power(CAST(2 AS DOUBLE), qi.idx * power(CAST(2 AS DOUBLE), CAST(-t.latency_scale AS DOUBLE)))
                                    * power(CAST(2 AS DOUBLE), CAST(0.5 AS DOUBLE) * power(CAST(2 AS DOUBLE), CAST(-t.latency_scale AS DOUBLE))),
                                  CAST(t.latency_min_ns AS DOUBLE)),
                         CAST(t.latency_max_ns AS DOUBLE))
         END AS value
  FROM totals t
  CROSS JOIN levels l
  LEFT JOIN quantile_index qi ON qi.k = t.k AND qi.name = l.name
),
quantiles AS (
  SELECT k,
         max(CASE WHEN name = 'p50_ns' THEN value END) AS p50_ns,
         max(CASE WHEN name = 'p90_ns' THEN value END) AS p90_ns,
         max(CASE WHEN name = 'p99_ns' THEN value END) AS p99_ns
  FROM quantile
  GROUP BY k
),
