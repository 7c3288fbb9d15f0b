import Foundation
import Testing
import TestSupport
@testable import Parquet

struct SparkReport: Decodable {
    struct File: Decodable {
        var values: [String: [Cell]]?
        var error: String?
    }
    var files: [String: File]
    var warnings: [String]
}

@Suite("Parquet files read by Spark (slow: one pyspark local session)", .requiresSpark)
struct SparkTests {
    /// One Spark session (≈15 s to start) reads every corpus file.
    @Test("slowSpark: every corpus file is read by Spark with equal values and no WARN/ERROR lines")
    func slowSparkReadsEveryCorpusFile() throws {
        let dir = try makeScratchDirectory("redline-parquet-spark")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = corpus()
        let paths = try files.map { try $0.write(to: dir) }
        let run = try runValidator("spark_check.py", paths)
        #expect(run.status == 0, "spark_check.py failed: \(run.err.suffix(3000))")
        let report = try JSONDecoder().decode(SparkReport.self, from: run.out)
        #expect(report.warnings.isEmpty, "Spark logged: \(report.warnings)")
        for (file, path) in zip(files, paths) {
            let r = try #require(report.files[path])
            #expect(r.error == nil, "\(file.name): \(r.error ?? "")")
            let values = try #require(r.values)
            let problems = compareValues(file, values, reader: "spark")
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}
