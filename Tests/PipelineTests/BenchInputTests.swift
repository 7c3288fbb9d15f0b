import Foundation
import Testing
import TestSupport

/// `redline-dev bench-pipeline` (the input of tools/bench/pipeline/run) generates its hosts on
/// parallel threads; what the benchmark measures, and GoldenTablesTests pins, must not depend on
/// how many. `--no-parquet` (the 100× input) must leave the segments as they are.
@Suite("Pipeline benchmark input: the same bytes whatever the generator's threads")
struct BenchInputTests {
    @Test("--threads 1 and 3 write identical files; --no-parquet the same segments and no Parquet")
    func threadsAndParquetLeaveTheBytes() throws {
        let dev = try builtProduct("redline-dev")
        let scratch = try makeScratchDirectory("redline-bench-input")
        defer { try? FileManager.default.removeItem(at: scratch) }
        func generate(_ name: String, _ extra: [String]) throws -> [String: Data] {
            let out = scratch.appendingPathComponent(name).path
            let r = try runToCompletion(dev, ["bench-pipeline", "--calls", "20000", "--out", out] + extra)
            try #require(r.status == 0, "bench-pipeline \(extra): \(r.stderr)")
            var files: [String: Data] = [:]
            for case let p as String in FileManager.default.enumerator(atPath: out)! {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: out + "/" + p, isDirectory: &isDir), !isDir.boolValue {
                    files[p] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + p))
                }
            }
            return files
        }
        let one = try generate("one", ["--threads", "1"])
        let three = try generate("three", ["--threads", "3"])
        let bare = try generate("bare", ["--threads", "2", "--no-parquet"])
        // 4 hosts × 60 one-minute segments, and one Parquet file per host.
        #expect(one.keys.filter { $0.hasSuffix(".rls") }.count == 240)
        #expect(one.keys.filter { $0.hasPrefix("calls/") && $0.hasSuffix(".parquet") }.count == 4)
        #expect(one.keys.sorted() == three.keys.sorted())
        #expect(one.keys.filter { one[$0] != three[$0] }.isEmpty, "files differ between --threads 1 and 3")
        #expect(bare.keys.filter { $0.hasPrefix("calls/") }.isEmpty, "--no-parquet wrote Parquet")
        #expect(bare.keys.sorted() == one.keys.filter { !$0.hasPrefix("calls/") }.sorted())
        #expect(bare.keys.filter { bare[$0] != one[$0] }.isEmpty, "--no-parquet changed the segments or metadata")
    }
}
