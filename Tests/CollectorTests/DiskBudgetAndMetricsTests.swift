import Foundation
import Testing
@testable import Collector
import Segments

func makeTempDir(_ tag: String) throws -> String {
    let p = FileManager.default.temporaryDirectory.appendingPathComponent("redline-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// Three stand-in sealed segments of `bytes` bytes under `root`, one per hour folder (10, 11,
/// 12 of host h1's 2026-11-24), oldest first, with distinct ordered modification times (set,
/// not waited for). Returns their paths in that order.
private func sealedSegments(under root: String, bytes: Int) throws -> [String] {
    try (0..<3).map { i in
        let dir = "\(root)/host=h1/date=2026-11-24/hour=1\(i)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = "\(dir)/seg-\(i).rls"
        try Data(repeating: 1, count: bytes).write(to: URL(fileURLWithPath: p))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000 + Double(i))], ofItemAtPath: p)
        return p
    }
}

@Suite struct DiskBudgetTests {
    @Test func deletesOldestSealedFirstAndNeverOpenSegments() throws {
        let root = try makeTempDir("budget")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let paths = try sealedSegments(under: root, bytes: 1000)
        let open = "\(root)/host=h1/date=2026-11-24/hour=09/old.rls.open"
        try FileManager.default.createDirectory(atPath: (open as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(repeating: 2, count: 5000).write(to: URL(fileURLWithPath: open))

        let r = DiskBudget(root: root, budgetBytes: 1500).enforce()
        #expect(r.deletedFiles == [paths[0], paths[1]])
        #expect(r.deletedBytes == 2000 && r.remainingBytes == 1000)
        #expect(FileManager.default.fileExists(atPath: open), "open segments are never deleted")
        #expect(FileManager.default.fileExists(atPath: paths[2]))
        #expect(!FileManager.default.fileExists(atPath: (paths[0] as NSString).deletingLastPathComponent), "empty hour folder removed")

        #expect(DiskBudget(root: root, budgetBytes: 0).enforce().deletedFiles.isEmpty, "0 = no budget")
    }
}

@Suite struct DiskBudgetMinimumFreeTests {
    @Test("min_free deletes oldest first down to the newest sealed segment, which it keeps")
    func minimumFreeKeepsTheNewest() throws {
        let root = try makeTempDir("minfree")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let paths = try sealedSegments(under: root, bytes: 100)
        // More free space than the filesystem can ever have: everything but the newest goes.
        let free = try #require(DiskBudget.freeBytes(at: root))
        let r = DiskBudget(root: root, budgetBytes: 0, minFreeBytes: free * 4 + (1 << 40)).enforce()
        #expect(r.deletedFiles == [paths[0], paths[1]])
        #expect(FileManager.default.fileExists(atPath: paths[2]), "the newest sealed segment is never deleted")
        #expect(r.freeBytes != nil)
        // A minimum the filesystem already meets deletes nothing.
        #expect(DiskBudget(root: root, budgetBytes: 0, minFreeBytes: 1).enforce().deletedFiles.isEmpty)
        // A byte budget smaller than one file also keeps the newest.
        #expect(DiskBudget(root: root, budgetBytes: 1).enforce().deletedFiles.isEmpty)
    }
}

@Suite struct MetricsPublisherTests {
    @Test("the publisher rewrites the file through its preallocated reserve, 0644, and keeps a reserve for the next write")
    func rewritesThroughTheReserve() throws {
        let dir = try makeTempDir("metrics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/redline.prom"
        let publisher = MetricsTextfile.Publisher(path: path, reserveBytes: 16 << 10)
        for v in [1.0, 2.0] {
            try publisher.write([.init("redline_write_errors_total", .counter, help: "h", value: v)])
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasSuffix("redline_write_errors_total \(Int(v))\n"), "\(text)")
            var st = stat()
            #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o644)
            #expect(stat(path + ".reserve", &st) == 0 && st.st_size == 16 << 10, "the next write's space is allocated")
        }
    }
}

@Suite struct MetricsTextfileTests {
    @Test func rendersPrometheusTextAndWritesAtomically() throws {
        let samples: [MetricsTextfile.Sample] = [
            .init("redline_events_read_total", .counter, help: "Events read from the ring buffer.", labels: [("kind", "l7_call")], value: 42),
            .init("redline_events_read_total", .counter, help: "Events read from the ring buffer.", labels: [("kind", "flow_delta")], value: 7),
            .init("redline_poll_lag_seconds", .gauge, help: "Age of the oldest unread event.", value: 0.25),
            .init("redline_info", .gauge, help: "Build info.", labels: [("version", "0.1 \"dev\"\n")], value: 1),
        ]
        let text = MetricsTextfile.render(samples)
        #expect(text == """
            # HELP redline_events_read_total Events read from the ring buffer.
            # TYPE redline_events_read_total counter
            redline_events_read_total{kind="l7_call"} 42
            redline_events_read_total{kind="flow_delta"} 7
            # HELP redline_poll_lag_seconds Age of the oldest unread event.
            # TYPE redline_poll_lag_seconds gauge
            redline_poll_lag_seconds 0.25
            # HELP redline_info Build info.
            # TYPE redline_info gauge
            redline_info{version="0.1 \\"dev\\"\\n"} 1

            """)
        let dir = try makeTempDir("metrics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MetricsTextfile.write(samples, to: "\(dir)/redline.prom")
        #expect(try String(contentsOfFile: "\(dir)/redline.prom", encoding: .utf8) == text)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["redline.prom"], "no temp file left")
        #expect(throws: FileWriteError.self) { try MetricsTextfile.write(samples, to: "\(dir)/missing/redline.prom") }
    }
}
