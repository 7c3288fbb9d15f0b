import Foundation
@testable import Pipeline
import Testing
import TestSupport

/// "Two levels, one definition": the Spark SQL under pipelines/spark/ merges the per-host
/// partial tables into exactly the tables Redline's Swift merge writes.
///
/// The test runs the built `redline` executable (found beside the test bundle; `swift build`
/// builds it) over the sample segments, then `pipelines/spark/run_merge.py --compare` once —
/// one Spark session for every table of every table root — and checks its JSON report.
///
/// Table roots, all for partition date=2026-01-02/hour=03, over a segment root holding the two
/// sample hosts plus two more hosts that each have one minute of a sample host's segments (so
/// rows of several hosts share keys and the merge really combines partials):
/// - `default`: pipelines/hourly.yaml as shipped (60 s buckets, histogram scale 4).
/// - `mixed`: hourly buckets; the full hosts' partials from a run at scale 3, the one-minute
///   hosts' partials from a run at scale 4, and as the reference the scale-3 run's merged
///   tables. Downscaling is exact (bucket i at scale 4 lies inside bucket i >> 1 at scale 3),
///   so merging the mixed partials must give the scale-3 run's tables: the different-scales
///   path of the merge, checked against Swift. The partials differ (one minute vs. the hour),
///   so minima, maxima and histograms really combine.
/// - `wrongReference`: the scale-4 hourly partials against the scale-3 merged tables — a
///   control showing the comparison fails: the RED tables must differ, the others not.
///
/// Doubles (quantiles, completeness) compare within a relative 1e-12: a quantile is a product
/// of powers of two, which Swift computes with glibc's `exp2` and Spark with Java's
/// `StrictMath.pow`; either may be off by an ulp (~2.2e-16 relative), nothing more. Integers,
/// strings, histogram buckets and row order compare exactly.
@Suite("Spark SQL (and DuckDB) merge equals the Swift merge (slowSpark: one pyspark local session)", .requiresSpark)
struct SparkMergeEquivalenceTests {
    static let packageRoot = Prerequisites.packageRoot
    static let partition = "date=2026-01-02/hour=03"
    static let tables = PipelineTables.hourly.map { $0.name }.filter { !PipelineTables.joinedByTrace.contains($0) }
    /// Tables the samples give no rows: they hold no DNS call (the lab's captures have no resolver
    /// traffic). Their merge still runs and must equal Swift's (both empty); the rows that make the
    /// comparison bite come from red_route, whose SQL the same generator writes.
    static let emptyInSamples: Set<String> = ["dns_names"]
    static let samples = packageRoot + "/tools/lab/samples"

    struct Report: Decodable {
        struct Entry: Decodable {
            var tables: String
            var table: String
            var partial_rows: Int
            var partial_hosts: Int
            var partial_scales: [Int]?
            var spark_rows: Int?
            var swift_rows: Int?
            var difference_count: Int
            var differences: [String]
        }
        var results: [Entry]
        var total_seconds: Double
    }

    enum Failure: Error, CustomStringConvertible {
        case missing(String)
        case failed(String)
        var description: String {
            switch self {
            case .missing(let s), .failed(let s): s
            }
        }
    }

    /// A segment root with the sample hosts and two one-minute hosts (copies of a sample minute).
    static func segmentRoot(in dir: URL) throws -> String {
        let fm = FileManager.default
        let root = dir.appendingPathComponent("segments")
        let src = samples + "/segments"
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        for host in ["web-1.dc1", "redis-1.dc2"] {
            try fm.createSymbolicLink(atPath: root.appendingPathComponent("host=\(host)").path,
                                      withDestinationPath: "\(src)/host=\(host)")
        }
        // The minutes that hold each sample host's TCP drop, so tcp_drops merges rows too.
        for (host, from, file) in [("web-2.dc1", "web-1.dc1", "20260102T030400Z-000000.rls"),
                                   ("redis-2.dc2", "redis-1.dc2", "20260102T030500Z-000000.rls")] {
            let d = root.appendingPathComponent("host=\(host)/\(partition)")
            try fm.createDirectory(at: d, withIntermediateDirectories: true)
            try fm.copyItem(atPath: "\(src)/host=\(from)/\(partition)/\(file)", toPath: d.appendingPathComponent(file).path)
        }
        return root.path
    }

    /// hourly.yaml with other aggregate settings, written into `dir`.
    static func pipeline(bucketSeconds: Int, scale: Int, in dir: URL) throws -> String {
        let text = try String(contentsOfFile: packageRoot + "/pipelines/hourly.yaml", encoding: .utf8)
        let edited = text.replacingOccurrences(of: "bucket_seconds: 60\n", with: "bucket_seconds: \(bucketSeconds)\n")
            .replacingOccurrences(of: "histogram_scale: 4 ", with: "histogram_scale: \(scale) ")
        guard edited.contains("bucket_seconds: \(bucketSeconds)\n"), edited.contains("histogram_scale: \(scale) ") else {
            throw Failure.failed("pipelines/hourly.yaml no longer has the aggregate settings this test edits")
        }
        let path = dir.appendingPathComponent("hourly-\(bucketSeconds)s-scale\(scale).yaml").path
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A table root assembled from others: each host's partials from the named root, the merged
    /// files from `merged`.
    static func assemble(_ dir: URL, partials: [String: URL], merged: URL) throws {
        let fm = FileManager.default
        for t in tables {
            for (host, from) in partials {
                let dst = dir.appendingPathComponent("partials/\(t)/\(partition)/host=\(host)")
                try fm.createDirectory(at: dst.deletingLastPathComponent(), withIntermediateDirectories: true)
                try fm.copyItem(at: from.appendingPathComponent("partials/\(t)/\(partition)/host=\(host)"), to: dst)
            }
            let dst = dir.appendingPathComponent("\(t)/\(partition)")
            try fm.createDirectory(at: dst, withIntermediateDirectories: true)
            try fm.copyItem(at: merged.appendingPathComponent("\(t)/\(partition)/part-00000.parquet"),
                            to: dst.appendingPathComponent("part-00000.parquet"))
        }
    }

    /// The three table roots described above, built under `dir` by running `redline`.
    struct Roots { var standard: URL; var mixed: URL; var wrongReference: URL }

    static func makeRoots(in dir: URL) throws -> Roots {
        let redline = try builtProduct("redline")
        let segments = try segmentRoot(in: dir)
        func redlineRun(_ pipeline: String, _ out: String) throws -> URL {
            let url = dir.appendingPathComponent(out)
            let r = try runToCompletion(redline, ["run", pipeline, "--partition", partition, "--segments", segments,
                                      "--metadata", samples + "/metadata", "--out", url.path, "--quiet"], directory: Self.packageRoot)
            guard r.status == 0 else { throw Failure.failed("redline run \(pipeline) exited \(r.status): \(r.stderr)") }
            return url
        }
        let standard = try redlineRun(packageRoot + "/pipelines/hourly.yaml", "default")
        let hourlyScale4 = try redlineRun(try pipeline(bucketSeconds: 3600, scale: 4, in: dir), "hourly-scale4")
        let hourlyScale3 = try redlineRun(try pipeline(bucketSeconds: 3600, scale: 3, in: dir), "hourly-scale3")
        let mixed = dir.appendingPathComponent("mixed")
        try assemble(mixed, partials: ["web-1.dc1": hourlyScale3, "redis-1.dc2": hourlyScale3,
                                       "web-2.dc1": hourlyScale4, "redis-2.dc2": hourlyScale4],
                     merged: hourlyScale3)
        let wrong = dir.appendingPathComponent("wrong-reference")
        try assemble(wrong, partials: ["web-1.dc1": hourlyScale4, "redis-1.dc2": hourlyScale4,
                                       "web-2.dc1": hourlyScale4, "redis-2.dc2": hourlyScale4],
                     merged: hourlyScale3)
        return Roots(standard: standard, mixed: mixed, wrongReference: wrong)
    }

    static func scratch() throws -> URL { try makeScratchDirectory("redline-spark-merge") }

    static func python() throws -> String {
        let python = packageRoot + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure.missing("\(python) not found; tools/setup creates the venv with pyspark and duckdb")
        }
        return python
    }

    @Test("slowSpark: Spark SQL merges the partials of every table into the Swift merged tables, mixed scales included")
    func slowSparkMergeEqualsSwiftMerge() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let roots = try Self.makeRoots(in: dir)
        let (defaultRun, mixed, wrong) = (roots.standard, roots.mixed, roots.wrongReference)

        let python = try Self.python()
        let reportPath = dir.appendingPathComponent("report.json").path
        let r = try runToCompletion(python, [Self.packageRoot + "/pipelines/spark/run_merge.py",
                                 "--tables", defaultRun.path, "--tables", mixed.path, "--tables", wrong.path,
                                 "--partition", Self.partition, "--compare", "--rel-tol", "1e-12",
                                 "--report", reportPath, "--small-input"], directory: Self.packageRoot)
        // 1: differences found (the control root must produce some); 0 or 2 means something else.
        #expect(r.status == 1, "run_merge.py exited \(r.status):\n\(r.stdout)\n\(r.stderr.suffix(4000))")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: reportPath)))

        func entry(_ root: URL, _ table: String) throws -> Report.Entry {
            try #require(report.results.first { $0.tables == root.path && $0.table == table },
                         "no result for \(table) under \(root.lastPathComponent)")
        }
        for table in Self.tables {
            for root in [defaultRun, mixed] {
                let e = try entry(root, table)
                #expect(e.difference_count == 0,
                        "\(table) (\(root.lastPathComponent)): \(e.difference_count) differences: \(e.differences)")
                #expect(e.spark_rows == e.swift_rows)
                if Self.emptyInSamples.contains(table) {
                    #expect(e.swift_rows == 0, "\(table) now has sample rows: drop it from emptyInSamples")
                    continue
                }
                #expect((e.swift_rows ?? 0) > 0, "\(table) (\(root.lastPathComponent)) has no rows to compare")
                #expect(e.partial_hosts == 4)
                // Rows of several hosts shared keys: the merge combined partials, not just copied them.
                #expect(e.partial_rows > (e.spark_rows ?? .max), "\(table) (\(root.lastPathComponent)): nothing merged")
            }
            let control = try entry(wrong, table)
            if table.hasPrefix("red_") {
                #expect(try entry(defaultRun, table).partial_scales == [4])
                #expect(try entry(mixed, table).partial_scales == [3, 4], "the mixed root must mix scales")
                #expect(control.difference_count > 0, "scale-4 merge compared equal to scale-3 tables: the comparison cannot fail")
                #expect(control.differences.contains { $0.contains("column latency_scale: spark 4 vs swift 3") })
            } else {
                #expect(control.difference_count == 0, "\(table): counts do not depend on the scale: \(control.differences)")
            }
        }
    }

    /// The same SQL text in DuckDB, with the few Spark spellings duckdb_merge.py rewrites
    /// (README.md lists them). Fast: no JVM.
    @Test("DuckDB runs the same merge SQL and equals the Swift merge; the wrong reference differs")
    func duckDBMergeEqualsSwiftMerge() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let roots = try Self.makeRoots(in: dir)
        let script = Self.packageRoot + "/pipelines/spark/duckdb_merge.py"
        let good = try runToCompletion(try Self.python(), [script, "--tables", roots.standard.path, "--tables", roots.mixed.path,
                                                    "--partition", Self.partition, "--compare", "--rel-tol", "1e-12"], directory: Self.packageRoot)
        #expect(good.status == 0, "duckdb_merge.py exited \(good.status):\n\(good.stdout)\n\(good.stderr.suffix(4000))")
        for table in Self.tables {
            for root in [roots.standard, roots.mixed] {
                #expect(good.stdout.contains("\(table.padding(toLength: 15, withPad: " ", startingAt: 0)) \(root.path): equal ("),
                        "\(table) (\(root.lastPathComponent)) not reported equal:\n\(good.stdout)")
            }
        }
        let bad = try runToCompletion(try Self.python(), [script, "--tables", roots.wrongReference.path,
                                                   "--partition", Self.partition, "--compare"], directory: Self.packageRoot)
        #expect(bad.status == 1, "duckdb_merge.py exited \(bad.status) on the wrong reference:\n\(bad.stdout)\n\(bad.stderr)")
        #expect(bad.stdout.contains("column latency_scale: duckdb 4 vs swift 3"), "\(bad.stdout)")
    }
}
