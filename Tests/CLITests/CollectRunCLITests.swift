import Foundation
import Testing
import TestSupport

@Suite("redline collect and redline run: usage and configuration errors (end to end)")
struct CollectRunCLITests {
    func write(_ text: String) throws -> String {
        let dir = try makeScratchDirectory("redline-cli")
        let p = dir.appendingPathComponent("c.yaml").path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    @Test("a bad collector config exits 3 naming the file, line and field")
    func badCollectorConfig() throws {
        let p = try write("version: 1\nsegments:\n  root: /tmp/x\n  window_seconds: 7\n")
        let r = try InspectCLITests.redline("collect", "--config", p)
        #expect(r.status == 3)
        #expect(r.stderr.contains("c.yaml:4: segments.window_seconds: must divide 3600"), "\(r.stderr)")
    }

    @Test("a bad pipeline exits 3 naming the line; a bad partition is a usage error (2)")
    func badPipeline() throws {
        let p = try write("version: 1\nname: x\nkind: hourly\ninputs: {segments: s}\noutput: {tables: t}\nstages:\n  - stage: reed\n")
        let r = try InspectCLITests.redline("run", p, "--partition", "date=2026-01-02/hour=03")
        #expect(r.status == 3)
        #expect(r.stderr.contains("c.yaml:7"), "\(r.stderr)")
        #expect(r.stderr.contains("unknown stage 'reed'"))
        let u = try InspectCLITests.redline("run", p, "--partition", "2026-01-02T03")
        #expect(u.status == 2)
        #expect(u.stderr.contains("is not date=YYYY-MM-DD/hour=HH"))
    }

    @Test("--help of collect and run documents the exit codes")
    func helpDocumentsExitCodes() throws {
        for cmd in ["collect", "run"] {
            let r = try InspectCLITests.redline(cmd, "--help")
            #expect(r.status == 0)
            #expect(r.stdout.contains("Exit codes"), "\(cmd)")
        }
    }
}

@Suite("redline run: byte-identical across processes (end to end)")
struct RunDeterminismCLITests {
    @Test("two separate runs of a partition write the same bytes (no leftover memory, no hash-seed order in any file)")
    func separateProcessesWriteTheSameBytes() throws {
        let capture = Prerequisites.packageRoot + "/tools/lab/samples/capture"
        let partition = try String(contentsOfFile: capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var trees: [[String: Data]] = []
        for _ in 0..<2 {
            let out = try makeScratchDirectory("redline-cli")
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try InspectCLITests.redline("run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", partition,
                                                "--segments", capture + "/segments", "--metadata", capture + "/metadata",
                                                "--out", out.path, "--quiet")
            #expect(r.status == 0, "\(r.stderr)")
            var files: [String: Data] = [:]
            for case let p as String in FileManager.default.enumerator(atPath: out.path)! where p.hasSuffix(".parquet") || p.hasSuffix(".json") {
                files[p] = FileManager.default.contents(atPath: out.path + "/" + p)
            }
            trees.append(files)
        }
        #expect(trees[0].count > 20)
        #expect(trees[0] == trees[1])
    }
}
