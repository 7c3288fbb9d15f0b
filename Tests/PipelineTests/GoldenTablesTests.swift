import Foundation
import Testing

/// Every Parquet file the pipelines write, byte for byte, against SHA-256 sums recorded before
/// the tables were re-declared as `OutputTable`s (issue 11): the shipped samples
/// (tools/lab/samples: the synthetic hour and the captured lab run), the daily rollup of the
/// synthetic day, and a benchmark input (the deterministic generator of tools/bench/pipeline,
/// 20 000 calls over 4 hosts).
///
/// A golden is legitimate here, unlike a hard-coded result elsewhere: this is a refactoring
/// invariant. The sums were taken with main's code before the change and say "the code that
/// writes the tables was reorganised, the tables were not". Other tests check what the tables
/// mean (ground truth, Spark equivalence, completeness); this one checks that nothing moved.
/// Files carry `redline.version` and `redline.schema_version` in their footers, so a change that
/// is meant to change bytes bumps one of them, and only then is Golden/tables.sha256 rewritten
/// (the failure message says how).
@Suite("Golden tables: every written file byte-identical to the recorded sums")
struct GoldenTablesTests {
    static let golden = packageRoot.appendingPathComponent("Tests/PipelineTests/Golden/tables.sha256")
    static let samples = packageRoot.appendingPathComponent("tools/lab/samples").path
    static let benchCalls = "20000"
    static let benchPartition = "date=2026-01-02/hour=03"

    @Test("samples, captured run, daily rollup and benchmark input: every Parquet file as recorded")
    func everyFileAsRecorded() throws {
        let redline = try SparkMergeEquivalenceTests.redlinePath()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("redline-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let hourly = packageRoot.appendingPathComponent("pipelines/hourly.yaml").path
        let daily = packageRoot.appendingPathComponent("pipelines/daily-traffic.yaml").path
        func partition(_ dir: String) throws -> String {
            try String(contentsOfFile: "\(dir)/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func run(_ exe: String, _ args: [String]) throws {
            let r = try SparkMergeEquivalenceTests.run(exe, args, in: scratch)
            try #require(r.status == 0, "\(exe) \(args.joined(separator: " ")): \(r.err)")
        }
        let synthetic = try partition(Self.samples)
        try run(redline, ["run", hourly, "--partition", synthetic, "--segments", "\(Self.samples)/segments",
                          "--metadata", "\(Self.samples)/metadata", "--out", scratch.path + "/samples", "--quiet"])
        let capture = Self.samples + "/capture"
        try run(redline, ["run", hourly, "--partition", try partition(capture), "--segments", "\(capture)/segments",
                          "--metadata", "\(capture)/metadata", "--out", scratch.path + "/capture", "--quiet"])
        try run(redline, ["run", daily, "--partition", String(synthetic.prefix { $0 != "/" }),
                          "--out", scratch.path + "/samples", "--quiet"])
        // The benchmark generator: `redline-dev bench-pipeline` where the dev executable exists,
        // else the product CLI's `redline dev bench-pipeline` it came from.
        let dev = URL(fileURLWithPath: redline).deletingLastPathComponent().appendingPathComponent("redline-dev").path
        let generate = FileManager.default.isExecutableFile(atPath: dev)
            ? (dev, ["bench-pipeline"]) : (redline, ["dev", "bench-pipeline"])
        let input = scratch.path + "/bench-input"
        try run(generate.0, generate.1 + ["--calls", Self.benchCalls, "--out", input])
        try run(redline, ["run", hourly, "--partition", Self.benchPartition, "--segments", "\(input)/segments",
                          "--metadata", "\(input)/metadata", "--out", scratch.path + "/bench", "--quiet"])

        var written: [String] = []
        for root in ["samples", "capture", "bench"] {
            let e = FileManager.default.enumerator(atPath: scratch.path + "/" + root)!
            for case let p as String in e where p.hasSuffix(".parquet") { written.append("\(root)/\(p)") }
        }
        let sums = try SparkMergeEquivalenceTests.run("/usr/bin/sha256sum", written.sorted().map { "\(scratch.path)/\($0)" },
                                                      in: scratch)
        try #require(sums.status == 0, "sha256sum: \(sums.err)")
        let expected = try String(contentsOf: Self.golden, encoding: .utf8)
        let got = Self.table(sums.out.replacingOccurrences(of: scratch.path + "/", with: ""))
        let want = Self.table(expected)
        let differing = Set(got.keys).union(want.keys).filter { got[$0] != want[$0] }.sorted()
        #expect(differing.isEmpty, """
            \(differing.count) of \(want.count) files differ from Tests/PipelineTests/Golden/tables.sha256 (or are \
            new or missing): \(differing.prefix(10)). Only a change that bumps RedlineVersion or a table's schema \
            version may change them; then regenerate the file from this test's commands (sha256sum, paths \
            relative to the scratch folder).
            """)
    }

    /// "sum  path" lines as path → sum.
    static func table(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { out[parts[1].trimmingCharacters(in: .whitespaces)] = parts[0] }
        }
        return out
    }
}
