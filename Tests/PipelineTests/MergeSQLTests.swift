import Foundation
@testable import Pipeline
import Testing

/// The merge SQL under pipelines/spark is generated from the table declarations: the committed
/// files must be exactly what the declarations generate today (SparkMergeEquivalenceTests runs
/// them against the Swift merge).
@Suite("Merge SQL: generated from the table declarations, committed files current")
struct MergeSQLTests {
    static let dir = packageRoot.appendingPathComponent("pipelines/spark")

    @Test("every committed merge_<table>.sql and .duckdb.sql is what the declarations generate",
          arguments: MergeSQL.files().keys.sorted())
    func committedFileIsCurrent(_ name: String) throws {
        let committed = try String(contentsOf: Self.dir.appendingPathComponent(name), encoding: .utf8)
        #expect(committed == MergeSQL.files()[name],
                "pipelines/spark/\(name) is stale: redline dev table-schemas --out schemas/tables --sql pipelines/spark")
    }

    @Test("no merge SQL is left over from a table that is gone")
    func noStaleFiles() throws {
        let present = try FileManager.default.contentsOfDirectory(atPath: Self.dir.path)
            .filter { $0.hasPrefix("merge_") && $0.hasSuffix(".sql") }
        #expect(Set(present) == Set(MergeSQL.files().keys))
    }

    @Test("the histogram merge and quantile rule are written once: every RED table's query has them, counter tables none")
    func histogramStepsOnlyWhereAHistogramIs() {
        for t in PipelineTables.hourly where !PipelineTables.joinedByTrace.contains(t.name) {
            let sql = MergeSQL.files()[MergeSQL.Dialect.spark.fileName(t.name)]!
            let hasHistogram = t.schema.columns.contains { $0.name == "latency_counts" }
            #expect(sql.contains("posexplode") == hasHistogram, "\(t.name)")
            #expect(sql.components(separatedBy: "CASE WHEN total = 0").count - 1 == (hasHistogram ? 3 : 0), "\(t.name)")
        }
    }
}
