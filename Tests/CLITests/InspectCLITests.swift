import Foundation
import Testing
import TestSupport

/// End-to-end tests of `redline inspect`: they run the built executable (`builtProduct`) and
/// check its output and exit code.
@Suite("redline inspect (end to end)")
struct InspectCLITests {
    static let golden = Prerequisites.packageRoot + "/Tests/SegmentsTests/Fixtures/golden-v1.rls"

    /// Runs the built `redline` with `args` to completion.
    static func redline(environment: [String: String]? = nil, _ args: String...) throws -> ProcessOutput {
        try runToCompletion(try builtProduct("redline"), args, environment: environment)
    }

    @Test("the intact golden fixture exits 0 with an INTACT verdict and its counts")
    func intact() throws {
        let r = try Self.redline("inspect", Self.golden)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("verdict      INTACT"))
        #expect(r.stdout.contains("blocks       8 verified; 1424 raw bytes → 656 stored"))
        #expect(r.stdout.contains("host         golden-host  boot 00112233-4455-6677-8899-aabbccddeeff"))
        #expect(r.stdout.contains("records      total                  11"))
        #expect(r.stdout.contains("time range   monotonic 5000000000 … 5005000000 ns"))
    }

    @Test("a truncated copy of the golden fixture exits 1 and names the recovered block count")
    func truncated() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("golden-truncated.rls")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.golden))
        try bytes.prefix(700).write(to: copy)
        let r = try Self.redline("inspect", copy.path)
        #expect(r.status == 1)
        #expect(r.stdout.contains("verdict      DAMAGED: \(copy.path): truncated block header at byte 688: needs 48 bytes, 12 present"))
        #expect(r.stdout.contains("recoverable  4 complete blocks (5 records), bytes 0…688 of 700"))
    }

    @Test("a directory is searched recursively; one damaged file makes it exit 1 with a total")
    func directory() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("host=a/date=2026-01-02/hour=03")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.golden))
        try bytes.write(to: sub.appendingPathComponent("a.rls"))
        var flipped = bytes
        flipped[300] ^= 1
        try flipped.write(to: sub.appendingPathComponent("b.rls"))
        try Data("not a segment".utf8).write(to: sub.appendingPathComponent("ignored.txt"))
        let r = try Self.redline("inspect", dir.path)
        #expect(r.status == 1)
        #expect(r.stdout.contains("block 1 CRC32C mismatch at byte 264"))
        #expect(r.stdout.contains("recoverable  1 complete block (2 records)"))
        #expect(r.stdout.contains("total: 2 files — 1 intact, 0 open, 1 damaged; 9 verified blocks, 13 records"))

        try FileManager.default.removeItem(at: sub.appendingPathComponent("b.rls"))
        #expect(try Self.redline("inspect", dir.path).status == 0)
    }

    @Test("--records prints every record as a JSON line; summaries go to stderr")
    func records() throws {
        let r = try Self.redline("inspect", "--records", Self.golden)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        // Eleven records; the fixture's version-1 calls read as version 2, each followed by its detail.
        #expect(lines.count == 13)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(objects.map { $0["type"] as! String } == ["flow_delta", "flow_delta", "l7_call", "call_detail", "flow_delta", "l7_call",
                                                          "call_detail", "tcp_event", "clock_anchor", "clock_anchor", "stats", "stats",
                                                          "cgroup_mapping"])
        #expect(objects[0]["laddr"] as? String == "198.18.0.10")
        #expect(objects[2]["detail_seq"] as? Int == 1)
        #expect(objects[3]["seq"] as? Int == 1 && objects[3]["route"] as? String == "/v1/items")
        #expect(objects[10]["counter"] as? String == "events_emitted")
        #expect(r.stderr.contains("verdict      INTACT"))
    }

    @Test("--json prints a machine-readable summary per file")
    func json() throws {
        let r = try Self.redline("inspect", "--json", Self.golden)
        #expect(r.status == 0)
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(o["verdict"] as? String == "intact")
        #expect(o["blocks"] as? Int == 8)
        #expect(o["records"] as? Int == 11)
        #expect(o["host"] as? String == "golden-host")
        #expect((o["counts"] as? [String: [String: Int]])?["flow_delta"] == ["blocks": 2, "records": 3])
    }

    @Test("usage errors exit 2 and --help documents the exit codes")
    func usage() throws {
        #expect(try Self.redline("inspect").status == 2)
        #expect(try Self.redline("inspect", "/nonexistent/segment.rls").status == 2)
        #expect(try Self.redline("inspect", "--no-such-flag", Self.golden).status == 2)
        let help = try Self.redline("inspect", "--help")
        #expect(help.status == 0)
        let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("Exit codes: 0 every file intact or open; 1 at least one file damaged; 2 usage error."))
    }

    @Test("the shipped demo samples inspect clean: sealed files intact, the open one open")
    func samples() throws {
        let r = try Self.redline("inspect", Prerequisites.packageRoot + "/tools/lab/samples/segments")
        #expect(r.status == 0)
        #expect(r.stdout.contains("total: 5 files — 4 intact, 1 open, 0 damaged"))
    }
}
