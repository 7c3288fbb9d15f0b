import Foundation
import Parquet
@testable import Pipeline
import Testing
import TestSupport

/// The tables of issue 14 as other engines read them: pyarrow, DuckDB and Spark see the same rows
/// and values (pipelines/spark/read_alike.py) in the files the hourly run writes over the chain
/// samples (tools/chain-samples), merged and partial. red_route and dns_names are also merged by
/// Spark in SparkMergeEquivalenceTests; call_chains and chain_paths have no merge SQL (a join by
/// trace id), so this is where Spark meets them.
@Suite("Chain tables read alike by pyarrow, DuckDB and Spark (slowSpark)", .requiresSpark)
struct ChainTablesReadAlikeTests {
    typealias Support = SparkMergeEquivalenceTests
    struct Reading: Decodable { var rows: Int; var digest: String; var exact: String? }

    @Test("call_chains, chain_paths, red_route, dns_names and a call_chains partial: same rows and values in every reader")
    func readersAgree() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-read-alike-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = Support.packageRoot + "/tools/chain-samples"
        let partition = try String(contentsOfFile: samples + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let out = dir.appendingPathComponent("tables").path
        let run = try runToCompletion(try builtProduct("redline"),
                                      ["run", Support.packageRoot + "/pipelines/hourly.yaml", "--partition", partition, "--segments",
                                       samples + "/segments", "--metadata", samples + "/metadata", "--out", out, "--quiet"],
                                      directory: dir.path)
        try #require(run.status == 0, "\(run.stderr)")
        let files = ["call_chains", "chain_paths", "red_route", "dns_names"].map { "\(out)/\($0)/\(partition)/part-00000.parquet" }
            + ["\(out)/partials/call_chains/\(partition)/host=h11/part-00000.parquet"]
        let r = try runToCompletion(try Support.python(), [Support.packageRoot + "/pipelines/spark/read_alike.py"] + files,
                                    directory: dir.path)
        try #require(r.status == 0, "read_alike.py exited \(r.status): \(r.stderr.suffix(3000))")
        let report = try JSONDecoder().decode([String: [String: Reading]].self, from: Data(r.stdout.utf8))
        for f in files {
            let readers = try #require(report[f], "no result for \(f)")
            let swiftRows = Int(try ParquetFileReader(path: f).numRows)
            #expect(f.contains("/dns_names/") || swiftRows > 0, "\(f) is empty: nothing to compare")
            for (name, reading) in readers {
                #expect(reading.rows == swiftRows, "\(name) reads \(reading.rows) rows of \(f), Swift \(swiftRows)")
                #expect(reading.digest == readers["pyarrow"]?.digest, "\(name) reads other values than pyarrow in \(f)")
            }
            #expect(readers["spark"]?.exact != nil && readers["spark"]?.exact == readers["pyarrow"]?.exact,
                    "Spark and pyarrow differ at nanosecond precision in \(f)")
            #expect(Set(readers.keys) == ["pyarrow", "duckdb", "spark"])
        }
    }
}
