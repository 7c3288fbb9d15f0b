import Foundation
import Parquet
@testable import Pipeline
import Testing
import TestSupport

/// The merge stage writes its merged tables on several threads at once (`HourlyRun`, one table
/// per job): a disk that fills while they are written must fail the run with nothing half
/// written and nothing published, and the same run with space again writes what a run that
/// never saw a full disk writes.
@Suite("Merged tables written in parallel on a full disk (root: tmpfs)", .serialized, .requiresRootBPF)
struct MergedTablesFullDiskTests {
    @Test("each table root size that is too small fails cleanly (some of them during the parallel merged writes); with space the run equals one on a roomy disk")
    func fullDiskDuringParallelMergedWrites() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        _ = try s.run(jobs: 2)
        let reference = s.files()
        try FileManager.default.removeItem(atPath: s.out)
        try FileManager.default.createDirectory(atPath: s.out, withIntermediateDirectories: true)

        let disk = try Tmpfs(at: s.out, size: "16k")
        defer { disk.unmount() }
        var failedInMergedWrites = 0
        var kib = 16
        while true {
            try disk.resize(to: "\(kib)k")
            do {
                _ = try s.run(jobs: 2)
                break
            } catch let e as PipelineError {
                if case .output(let message) = e, message.hasPrefix("writing "), !message.hasPrefix("writing partials/") {
                    failedInMergedWrites += 1
                }
                try expectNoHalfFiles(under: s.out, failure: "\(e)")
                #expect(!FileManager.default.fileExists(atPath: "\(s.out)/red_service/\(HourlyRunTests.partition.path)"),
                        "nothing published after: \(e)")
            }
            kib += 8
            #expect(kib < 64 << 10, "the run never fit")
            if kib >= 64 << 10 { return }
        }
        #expect(failedInMergedWrites > 0, "no size made a merged table's write fail")
        let written = s.files()
        #expect(Set(written.keys) == Set(reference.keys))
        for (path, data) in reference { #expect(written[path] == data, "\(path) differs from the run on a roomy disk") }
    }

    /// No temp file of a writer is left, and every Parquet file under `root` (staged ones
    /// included) is whole.
    func expectNoHalfFiles(under root: String, failure: String) throws {
        let e = FileManager.default.enumerator(atPath: root)!
        for case let p as String in e {
            #expect(!p.contains(".tmp-"), "\(p) left behind after: \(failure)")
            if p.hasSuffix(".parquet") {
                #expect(throws: Never.self, "\(p) is not a whole Parquet file after: \(failure)") {
                    _ = try ParquetFileReader(path: "\(root)/\(p)").readAll()
                }
            }
        }
    }
}
