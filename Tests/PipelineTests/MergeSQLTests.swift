import Foundation
@testable import Pipeline
import Testing

/// The merge SQL under pipelines/spark is generated from the table declarations: the committed
/// files must be exactly what the declarations generate today (SparkMergeEquivalenceTests runs
/// them against the Swift merge).
@Suite("Merge SQL: generated from the table declarations, committed files current")
struct MergeSQLTests {
    static let dir = packageRoot.appendingPathComponent("pipelines/spark")

    @Test("every committed merge_<table>.sql and fragment is what the declarations generate",
          arguments: MergeSQL.files().keys.sorted())
    func committedFileIsCurrent(_ name: String) throws {
        let committed = try String(contentsOf: Self.dir.appendingPathComponent(name), encoding: .utf8)
        #expect(committed == MergeSQL.files()[name],
                "pipelines/spark/\(name) is stale: redline dev table-schemas --out schemas/tables --sql pipelines/spark")
    }

    @Test("no merge SQL is left over from a table that is gone")
    func noStaleFiles() throws {
        let present = try FileManager.default.contentsOfDirectory(atPath: Self.dir.path)
            .filter { ($0.hasPrefix("merge_") || $0.hasPrefix("fragment_")) && $0.hasSuffix(".sql") }
        #expect(Set(present) == Set(MergeSQL.files().keys))
    }

    @Test("the histogram merge, the quantile rule and the completeness ratio are written once, in fragments the tables include")
    func stepsWrittenOnce() {
        let files = MergeSQL.files()
        for t in PipelineTables.hourly where !PipelineTables.joinedByTrace.contains(t.name) {
            let sql = files[MergeSQL.fileName(t.name)]!
            let hasHistogram = t.schema.columns.contains { $0.name == "latency_counts" }
            #expect(sql.contains("-- include: fragment_histogram_latency_counts.sql") == hasHistogram, "\(t.name)")
            #expect(sql.contains("-- include: fragment_completeness.sql"), "\(t.name)")
            #expect(!sql.contains("posexplode") && !sql.contains("CASE WHEN events_observed"), "\(t.name) repeats a fragment")
        }
        let histogram = files["fragment_histogram_latency_counts.sql"] ?? ""
        #expect(histogram.components(separatedBy: "power(").count - 1 == 4, "one quantile value expression")
    }
}
