/// The merge of a table's per-host partials as Spark SQL, generated from its `OutputTable`
/// fields: the same rule as the Swift merge (`Cell.merge` through `TableRows.merge`).
/// `redline dev table-schemas --sql pipelines/spark` writes `merge_<table>.sql` per table and
/// the fragments they include (`-- include: <file>` lines, which run_merge.py and
/// duckdb_merge.py replace by the file; duckdb_merge.py then respells the few Spark functions
/// DuckDB names differently). `MergeSQLTests` checks the committed files are current and
/// `SparkMergeEquivalenceTests` that Spark and DuckDB produce the Swift merged files.
///
/// A query reads the view `partials` (every row of `partials/<table>/<partition>/host=*/`;
/// extra columns such as the Hive partition column `host` are ignored), groups by every key
/// column (packed into one struct column `k`), and produces exactly the merged file's columns
/// in its order, sorted by the key columns. Counts add; an optional count is null once any
/// partial's is; completeness counters add and the ratio is recomputed from the sums, never
/// averaged; a histogram is re-indexed at the coarsest scale of its group, its buckets added,
/// min of minima and max of maxima (nulls, from empty histograms, skipped), and its quantiles
/// read as `ExponentialHistogram.quantile` reads them. The completeness ratio and the histogram
/// steps are written once, in fragments every table includes.
public enum MergeSQL {
    /// The fragment computing `completeness` from `totals` (the CTE `completed`).
    static let completenessFragment = "fragment_completeness.sql"

    /// The name of `table`'s merge file.
    public static func fileName(_ table: String) -> String { "merge_\(table).sql" }

    /// Every merge file and fragment: file name → text.
    public static func files() -> [String: String] {
        var out = [completenessFragment: completeness()]
        for t in PipelineTables.hourly where !PipelineTables.joinedByTrace.contains(t.name) {
            let (sql, fragments) = query(t)
            out[fileName(t.name)] = sql
            out.merge(fragments) { a, b in
                precondition(a == b, "two tables need different fragments of one name")
                return a
            }
        }
        return out
    }

    static let header = """
        -- Generated from Sources/Pipeline/Tables by `redline dev table-schemas --sql pipelines/spark`
        -- (Sources/Pipeline/MergeSQL.swift says what it computes); do not edit.
        """

    /// The merge of table `T`, and the fragments it includes.
    static func query<T: OutputTable>(_ table: T.Type) -> (sql: String, fragments: [String: String]) {
        let fields = T.fields
        let key = fields.filter(\.isKey).flatMap(\.columns).map(\.name)
        var aggregates: [String] = [], outputs: [String] = [], fragments: [String: String] = [:]
        var histogram: HistogramColumns?
        for f in fields {
            let c = f.columns.map(\.name)
            switch f.kind {
            case .bucket, .bucketStart, .bucketSeconds, .name, .code, .derived:
                outputs += c.map { "c.k.\($0) AS \($0)" }
            case .value:
                preconditionFailure("\(T.name) has a value field that does not merge: it has no merge SQL (list it in PipelineTables.every only)")
            case .count:
                aggregates.append("sum(\(c[0])) AS \(c[0])")
                outputs.append(c[0])
            case .optionalCount:
                // Null absorbs: a partial that did not know the count leaves no total.
                aggregates.append("CASE WHEN count(\(c[0])) = count(*) THEN sum(\(c[0])) END AS \(c[0])")
                outputs.append(c[0])
            case .histogram(_, let quantiles):
                precondition(histogram == nil, "\(T.name): the merge SQL handles one histogram per table")
                let h = HistogramColumns(c, quantiles: quantiles)
                histogram = h
                aggregates += ["min(\(h.scale)) AS \(h.scale)", "sum(\(h.zeroCount)) AS \(h.zeroCount)",
                               "sum(\(h.sum)) AS \(h.sum)", "min(\(h.min)) AS \(h.min)", "max(\(h.max)) AS \(h.max)"]
                outputs += c
                fragments[h.fragmentName] = h.fragment
            case .completeness:
                aggregates.append(c.prefix(3).map { "sum(\($0)) AS \($0)" }.joined(separator: ", "))
                outputs += c
            }
        }
        var sql = """
            -- Merge of the per-host partials of `\(T.name)` (schemas/tables/\(T.name).md), Spark SQL.
            \(header)

            WITH
            partial AS (
              SELECT *, struct(\(key.joined(separator: ", "))) AS k
              FROM partials
            ),
            totals AS (
              SELECT k,
                     \(wrapped(aggregates, indent: 9))
              FROM partial
              GROUP BY k
            ),

            """
        var joins = ""
        if let h = histogram {
            sql += "-- include: \(h.fragmentName)\n"
            joins = "\nJOIN histogram_columns hc ON hc.k = c.k\nJOIN quantiles q ON q.k = c.k"
        }
        sql += """
            -- include: \(completenessFragment)

            SELECT \(wrapped(outputs, indent: 7))
            FROM completed c\(joins)
            ORDER BY \(key.joined(separator: ", "))

            """
        return (sql, fragments)
    }

    /// `items` joined by commas, a new line (indented by `indent`) before one would pass 100
    /// characters.
    static func wrapped(_ items: [String], indent: Int) -> String {
        var lines: [String] = [], line = ""
        for item in items {
            if !line.isEmpty && line.count + item.count + 2 > 100 {
                lines.append(line + ",")
                line = ""
            }
            line += (line.isEmpty ? "" : ", ") + item
        }
        return (lines + [line]).joined(separator: "\n" + String(repeating: " ", count: indent))
    }

    /// The `completed` CTE, the last of every query: `totals` plus the completeness ratio.
    static func completeness() -> String {
        """
        -- Fragment: `totals` plus the share of events not lost over the host-buckets behind each row,
        -- 1 when none (recomputed from the summed counters, never averaged).
        \(header)
        completed AS (
          SELECT *,
                 CASE WHEN events_observed + events_lost = 0 THEN CAST(1 AS DOUBLE)
                      ELSE CAST(events_observed AS DOUBLE) / CAST(events_observed + events_lost AS DOUBLE)
                 END AS completeness
          FROM totals
        )

        """
    }
}

/// The column names of a histogram field, and the SQL steps that merge it (written once here,
/// included by every table with a histogram of these columns).
struct HistogramColumns {
    let scale, zeroCount, offset, counts, sum, min, max: String
    /// (quantile, column) pairs.
    let quantiles: [(q: Double, column: String)]

    init(_ c: [String], quantiles: [Double]) {
        (scale, zeroCount, offset, counts, sum, min, max) = (c[0], c[1], c[2], c[3], c[4], c[5], c[6])
        self.quantiles = zip(quantiles, c.dropFirst(7)).map { (q: $0, column: $1) }
    }

    var fragmentName: String { "fragment_histogram_\(counts).sql" }

    /// CTEs over `partial` (rows with the group key `k`) and `totals`, ending in
    /// `histogram_columns` (k, offset, dense counts) and `quantiles` (k, one column per
    /// quantile); each ends with a comma (the query's last CTE is `completed`).
    var fragment: String {
        """
        -- Fragment: the merge of the histogram in \(scale), \(zeroCount), \(offset), \(counts), \(min), \(max),
        -- and its quantiles \(quantiles.map(\.column).joined(separator: ", ")).
        \(MergeSQL.header)
        levels AS (
          SELECT * FROM VALUES \(quantiles.map { "(CAST(\($0.q) AS DOUBLE), '\($0.column)')" }.joined(separator: ", "))
            AS levels(q, name)
        ),
        -- One row per non-empty bucket of every partial, re-indexed at the group's merged scale
        -- (totals.\(scale), the coarsest): \(counts)[pos] (0-based) is bucket \(offset) + pos; from
        -- scale s to the coarser m, bucket i becomes i >> (s - m) (arithmetic: floor(i / 2^(s-m))).
        buckets AS (
          SELECT k, idx, sum(n) AS n
          FROM (
            SELECT p.k, shiftright(p.\(offset) + b.pos, p.\(scale) - t.\(scale)) AS idx, b.n
            FROM partial p
            JOIN totals t ON t.k = p.k
            LATERAL VIEW posexplode(p.\(counts)) b AS pos, n
            WHERE b.n > 0
          ) exploded
          GROUP BY k, idx
        ),
        -- Running count over the buckets in index order, starting from the zero bucket.
        ranked AS (
          SELECT b.k, b.idx, b.n,
                 t.\(zeroCount) + sum(b.n) OVER (PARTITION BY b.k ORDER BY b.idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                   AS at_or_below,
                 t.\(zeroCount) + sum(b.n) OVER (PARTITION BY b.k) AS total
          FROM buckets b
          JOIN totals t ON t.k = b.k
        ),
        -- Dense and trimmed: the offset is the first non-zero bucket; 0 with an empty list.
        histogram_columns AS (
          SELECT t.k,
                 coalesce(d.first_index, 0) AS \(offset),
                 coalesce(transform(sequence(d.first_index, d.last_index), i -> coalesce(d.count_by_index[i], CAST(0 AS BIGINT))),
                          CAST(array() AS ARRAY<BIGINT>)) AS \(counts)
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
                 CASE WHEN coalesce(qi.total, t.\(zeroCount)) = 0 THEN NULL
                      WHEN greatest(1, ceil(l.q * CAST(coalesce(qi.total, t.\(zeroCount)) AS DOUBLE))) <= t.\(zeroCount)
                        THEN CAST(0 AS DOUBLE)
                      ELSE least(greatest(power(CAST(2 AS DOUBLE), qi.idx * power(CAST(2 AS DOUBLE), CAST(-t.\(scale) AS DOUBLE)))
                                            * power(CAST(2 AS DOUBLE), CAST(0.5 AS DOUBLE) * power(CAST(2 AS DOUBLE), CAST(-t.\(scale) AS DOUBLE))),
                                          CAST(t.\(min) AS DOUBLE)),
                                 CAST(t.\(max) AS DOUBLE))
                 END AS value
          FROM totals t
          CROSS JOIN levels l
          LEFT JOIN quantile_index qi ON qi.k = t.k AND qi.name = l.name
        ),
        quantiles AS (
          SELECT k,
                 \(quantiles.map { "max(CASE WHEN name = '\($0.column)' THEN value END) AS \($0.column)" }.joined(separator: ",\n         "))
          FROM quantile
          GROUP BY k
        ),

        """
    }
}
