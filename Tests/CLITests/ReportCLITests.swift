import Foundation
import Testing
import TestSupport

@Suite("redline report: usage, input and output errors (end to end)")
struct ReportCLITests {
    @Test("usage mistakes exit 2 and say what is wrong")
    func usage() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.path + "/r.html"
        let bad = try InspectCLITests.redline("report", "--tables", dir.path, "--partition", "2026-11-24T19", "--out", out)
        #expect(bad.status == 2 && bad.stderr.contains("is not date=YYYY-MM-DD/hour=HH"), "\(bad.stderr)")
        let both = try InspectCLITests.redline("report", "--tables", dir.path, "--partition", "date=2026-11-24", "--from", "date=2026-11-24",
                                               "--out", out)
        #expect(both.status == 2 && both.stderr.contains("give --partition, or both --from and --to"), "\(both.stderr)")
        let reversed = try InspectCLITests.redline("report", "--tables", dir.path, "--from", "date=2026-11-25", "--to", "date=2026-11-24/hour=03",
                                                   "--out", out)
        #expect(reversed.status == 2 && reversed.stderr.contains("lies after"), "\(reversed.stderr)")
        let noOut = try InspectCLITests.redline("report", "--tables", dir.path, "--partition", "date=2026-11-24")
        #expect(noOut.status == 2)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("missing tables or partitions exit 3 naming them; an unwritable output exits 5 and leaves nothing behind")
    func inputAndOutput() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.path + "/r.html"
        let noRoot = try InspectCLITests.redline("report", "--tables", dir.path + "/nope", "--partition", "date=2026-11-24/hour=19", "--out", out)
        #expect(noRoot.status == 3 && noRoot.stderr.contains(dir.path + "/nope"), "\(noRoot.stderr)")
        let noHour = try InspectCLITests.redline("report", "--tables", dir.path, "--partition", "date=2026-11-24/hour=19", "--out", out)
        #expect(noHour.status == 3 && noHour.stderr.contains("no tables for partition date=2026-11-24/hour=19"), "\(noHour.stderr)")
        let noDay = try InspectCLITests.redline("report", "--tables", dir.path, "--partition", "date=2026-11-24", "--out", out)
        #expect(noDay.status == 3 && noDay.stderr.contains("no traffic_matrix_daily for date=2026-11-24"), "\(noDay.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))

        // A real partition, written into a folder that does not exist.
        let capture = Prerequisites.packageRoot + "/tools/lab/samples/capture"
        let part = try String(contentsOfFile: capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let tables = dir.path + "/tables"
        let run = try InspectCLITests.redline("run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", part,
                                              "--segments", capture + "/segments", "--metadata", capture + "/metadata", "--out", tables, "--quiet")
        try #require(run.status == 0, "\(run.stderr)")
        let unwritable = try InspectCLITests.redline("report", "--tables", tables, "--partition", part, "--out", dir.path + "/no/such/dir/r.html")
        #expect(unwritable.status == 5 && unwritable.stderr.contains("cannot write"), "\(unwritable.stderr)")
        let ok = try InspectCLITests.redline("report", "--tables", tables, "--partition", part, "--out", out, "--quiet")
        #expect(ok.status == 0 && ok.stdout.isEmpty)
        // A second process writes the same bytes (no hash-seed order anywhere on the page).
        let first = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(try InspectCLITests.redline("report", "--tables", tables, "--partition", part, "--out", out, "--quiet").status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == first)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["r.html", "tables"])
    }

    @Test("--help documents the selections, an example and the exit codes")
    func help() throws {
        let r = try InspectCLITests.redline("report", "--help")
        #expect(r.status == 0)
        for s in ["--partition", "--from", "--to", "--tables", "--out", "Exit codes", "redline report --tables", "docs/report.md"] {
            #expect(r.stdout.contains(s), "\(s)")
        }
    }
}
