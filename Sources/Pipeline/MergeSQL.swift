/// The merge of a table's per-host partials as SQL, generated from its `OutputTable` fields:
/// the same rule as the Swift merge (`Cell.merge` through `TableRows.merge`), for Spark
/// (`pipelines/spark/merge_<table>.sql`, run by run_merge.py) and DuckDB
/// (`merge_<table>.duckdb.sql`, run by duckdb_merge.py). `redline dev table-schemas --sql DIR`
/// writes the files; `MergeSQLTests` checks the committed ones are current and
/// `SparkMergeEquivalenceTests` that both engines produce the Swift merged files.
///
/// The query reads the view `partials` (every row of `partials/<table>/<partition>/host=*/`;
/// extra columns such as the Hive partition column `host` are ignored), groups by every key
/// column, and produces exactly the merged file's columns in its order, sorted by the key
/// columns. Counts add; an optional count is null once any partial's is; completeness counters
/// add and the ratio is recomputed from the sums, never averaged; a histogram is re-indexed at
/// the coarsest scale of its group, its buckets added, min of minima and max of maxima (nulls,
/// empty histograms, skipped), and its quantiles read as
/// `ExponentialHistogram.quantile` reads them.
public enum MergeSQL {
    public enum Dialect: Sendable, CaseIterable {
        case spark, duckdb

        /// The file name of `table`'s merge in this dialect.
        public func fileName(_ table: String) -> String {
            switch self {
            case .spark: "merge_\(table).sql"
            case .duckdb: "merge_\(table).duckdb.sql"
            }
        }
    }

    /// Every merged table's SQL file in every dialect: file name → text.
    public static func files() -> [String: String] {
        var out: [String: String] = [:]
        for t in PipelineTables.hourly where !PipelineTables.joinedByTrace.contains(t.name) {
            for d in Dialect.allCases { out[d.fileName(t.name)] = sql(t, dialect: d) }
        }
        return out
    }

    /// The merge of table `T` in `dialect`.
    public static func sql<T: OutputTable>(_ table: T.Type, dialect: Dialect) -> String {
        let fields = T.fields
        let key = fields.filter(\.isKey).flatMap(\.columns).map(\.name)
        let group = key.joined(separator: ", ")
        let histograms = fields.filter { if case .histogram = $0.kind { true } else { false } }
        precondition(histograms.count <= 1, "\(T.name): the merge SQL handles one histogram per table")
        var aggregates: [String] = [], outputs: [String] = []
        for f in fields where !f.isKey {
            let c = f.columns.map(\.name)
            switch f.kind {
            case .count:
                aggregates.append("sum(\(c[0])) AS \(c[0])")
                outputs.append(c[0])
            case .optionalCount:
                // Null absorbs: a partial that did not know the count leaves no total.
                aggregates.append("CASE WHEN count(\(c[0])) = count(*) THEN sum(\(c[0])) END AS \(c[0])")
                outputs.append(c[0])
            case .histogram(_, let quantiles):
                let h = HistogramColumns(c, quantiles: quantiles)
                aggregates += ["min(merged_scale) AS \(h.scale)", "sum(\(h.zeroCount)) AS \(h.zeroCount)",
                               "sum(\(h.sum)) AS \(h.sum)",
                               "min(\(h.min)) AS \(h.min)",
                               "max(\(h.max)) AS \(h.max)"]
                outputs += h.outputs(dialect)
            case .completeness:
                aggregates += c.prefix(3).map { "sum(\($0)) AS \($0)" }
                outputs += Array(c.prefix(3)) + ["""
                    -- Share of events not lost, over the host-buckets behind the row; 1 when none.
                           CASE WHEN \(c[0]) + \(c[1]) = 0 THEN CAST(1 AS DOUBLE)
                                ELSE CAST(\(c[0]) AS DOUBLE) / CAST(\(c[0]) + \(c[1]) AS DOUBLE)
                           END AS \(c[3])
                    """]
            case .bucket, .name, .code, .derived:
                break
            }
        }
        let histogram = histograms.first.flatMap { f -> HistogramColumns? in
            guard case .histogram(_, let quantiles) = f.kind else { return nil }
            return HistogramColumns(f.columns.map(\.name), quantiles: quantiles)
        }
        var sql = """
            -- Merge of the per-host partials of `\(T.name)` into the merged table (schemas/tables/\(T.name).md),
            -- \(dialect == .spark ? "Spark SQL" : "DuckDB SQL"). Generated from Sources/Pipeline/Tables by
            -- `redline dev table-schemas --sql pipelines/spark` (Sources/Pipeline/MergeSQL.swift says what
            -- it computes); do not edit. Group key: \(group).

            WITH

            """
        if let h = histogram {
            sql += """
                -- Each partial row plus the scale its group's merged histogram will have: the smallest
                -- (coarsest) scale among the group's partials.
                partial AS (
                  SELECT *, min(\(h.scale)) OVER (PARTITION BY \(group)) AS merged_scale
                  FROM partials
                ),

                """
        }
        sql += """
            totals AS (
              SELECT \(group),
                     \(aggregates.joined(separator: ",\n         "))
              FROM \(histogram == nil ? "partials" : "partial")
              GROUP BY \(group)
            )\(histogram.map { ",\n" + $0.steps(key: key, dialect: dialect) } ?? "")

            SELECT \(group),
                   \(outputs.joined(separator: ",\n       "))
            FROM \(histogram == nil ? "totals" : "merged")
            ORDER BY \(group)

            """
        return sql
    }
}

/// The column names of a histogram field, and the SQL steps that merge it (written once here).
struct HistogramColumns {
    let scale, zeroCount, offset, counts, sum, min, max: String
    /// (quantile, column) pairs.
    let quantiles: [(q: Double, column: String)]

    init(_ c: [String], quantiles: [Double]) {
        (scale, zeroCount, offset, counts, sum, min, max) = (c[0], c[1], c[2], c[3], c[4], c[5], c[6])
        self.quantiles = zip(quantiles, c.dropFirst(7)).map { (q: $0, column: $1) }
    }

    /// The rank of quantile q among `total` values, computed in DOUBLE as Swift does (a DECIMAL
    /// literal would be exact and could round differently): max(1, ceil(q * total)).
    func rank(_ q: Double) -> String { "greatest(1, ceil(CAST(\(q) AS DOUBLE) * CAST(total AS DOUBLE)))" }

    /// The bucket-level CTEs after `totals`, ending in `merged` (totals plus the histogram).
    func steps(key: [String], dialect: MergeSQL.Dialect) -> String {
        let group = key.joined(separator: ", ")
        let spark = dialect == .spark
        func on(_ a: String, _ b: String) -> String { key.map { "\(a).\($0) = \(b).\($0)" }.joined(separator: " AND ") }
        let explode = spark
            ? "LATERAL VIEW posexplode(p.\(counts)) b AS pos, n"
            : "CROSS JOIN LATERAL (SELECT generate_subscripts(p.\(counts), 1) - 1 AS pos, unnest(p.\(counts)) AS n) b"
        let shifted = spark
            ? "shiftright(p.\(offset) + b.pos, p.\(scale) - p.merged_scale)"
            : "((p.\(offset) + b.pos) >> (p.\(scale) - p.merged_scale))"
        let collect = spark ? "map_from_entries(collect_list(struct(idx, n)))" : "map_from_entries(list(row(idx, n)))"
        let quantileIndices = quantiles.map { q, c in
            "min(CASE WHEN at_or_below >= \(rank(q)) THEN idx END) AS \(c)_index"
        }
        return """
            -- One row per non-empty bucket of every partial, re-indexed at the merged scale:
            -- \(counts)[pos] (0-based) is bucket \(offset) + pos; from scale s to the coarser m,
            -- bucket i becomes i >> (s - m) (arithmetic: floor(i / 2^(s-m)), negative i too).
            buckets AS (
              SELECT \(group), idx, sum(n) AS n
              FROM (
                SELECT \(key.map { "p.\($0)" }.joined(separator: ", ")),
                       \(shifted) AS idx,
                       b.n
                FROM partial p
                \(explode)
                WHERE b.n > 0
              ) exploded
              GROUP BY \(group), idx
            ),

            -- Running count over the buckets in index order, starting from the zero bucket.
            ranked AS (
              SELECT \(key.map { "b.\($0)" }.joined(separator: ", ")), b.idx, b.n,
                     t.\(zeroCount)
                       + sum(b.n) OVER (PARTITION BY \(key.map { "b.\($0)" }.joined(separator: ", "))
                                        ORDER BY b.idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_or_below,
                     t.\(zeroCount)
                       + sum(b.n) OVER (PARTITION BY \(key.map { "b.\($0)" }.joined(separator: ", "))) AS total
              FROM buckets b
              JOIN totals t ON \(on("b", "t"))
            ),

            -- Per group: the dense index range, the counts by index, and for each quantile the
            -- first bucket whose running count reaches its rank.
            histogram AS (
              SELECT \(group),
                     min(idx) AS first_index,
                     max(idx) AS last_index,
                     \(collect) AS count_by_index,
                     \(quantileIndices.joined(separator: ",\n         ")),
                     min(total) AS total
              FROM ranked
              GROUP BY \(group)
            ),

            -- Both halves side by side; a group whose histograms hold only zeros has no bucket rows.
            merged AS (
              SELECT t.*,
                     h.first_index, h.last_index, h.count_by_index,
                     \(quantiles.map { "h.\($0.column)_index" }.joined(separator: ", ")),
                     coalesce(h.total, t.\(zeroCount)) AS total,
                     -- 2^-scale: a bucket's representative value base^(index + 0.5) is computed as
                     -- 2^(index * 2^-scale) * 2^(0.5 * 2^-scale), as ExponentialHistogram.quantile does.
                     power(CAST(2 AS DOUBLE), CAST(-t.\(scale) AS DOUBLE)) AS inv_buckets_per_octave
              FROM totals t
              LEFT JOIN histogram h ON \(on("h", "t"))
            )
            """
    }

    /// The histogram's output columns, from `merged`.
    func outputs(_ dialect: MergeSQL.Dialect) -> [String] {
        let spark = dialect == .spark
        let dense = spark
            ? "coalesce(transform(sequence(first_index, last_index), i -> coalesce(count_by_index[i], CAST(0 AS BIGINT))),\n"
                + "                CAST(array() AS ARRAY<BIGINT>))"
            : "coalesce(list_transform(generate_series(first_index, last_index), i -> coalesce(count_by_index[i], CAST(0 AS BIGINT))),\n"
                + "                CAST([] AS BIGINT[]))"
        let quantileValues = quantiles.map { q, c in
            """
            -- Quantile \(q): NULL for an empty histogram; 0 if the rank falls among the zeros; else
                   -- the representative value of the bucket holding the rank, clamped to [min, max].
                   CASE WHEN total = 0 THEN NULL
                        WHEN \(rank(q)) <= \(zeroCount) THEN CAST(0 AS DOUBLE)
                        ELSE least(greatest(power(CAST(2 AS DOUBLE), \(c)_index * inv_buckets_per_octave)
                                              * power(CAST(2 AS DOUBLE), CAST(0.5 AS DOUBLE) * inv_buckets_per_octave),
                                            CAST(\(min) AS DOUBLE)),
                                   CAST(\(max) AS DOUBLE))
                   END AS \(c)
            """
        }
        return [scale, zeroCount,
                "-- Trimmed: the offset is the first non-zero bucket; 0 with an empty list.\n       coalesce(first_index, 0) AS \(offset)",
                "\(dense) AS \(counts)", sum, min, max] + quantileValues
    }
}
