import CRedlineABI
import DevSupport
import Foundation
import Glibc
import RedlineBase
import Segments
import Testing
import TestSupport

/// Records v2 through the whole hourly pipeline (schemas/records-v2.md): the same calls written
/// as version-1 segments (240-byte calls) and as version-2 segments (slim calls + call details)
/// give the same bytes in every table file, also when an hour mixes the two; and a call whose
/// detail is lost is still counted, under the placeholders.
@Suite("Records v2: v1 and v2 inputs give byte-identical tables")
struct RecordsV2Tests {
    static let partition = "date=2026-01-02/hour=03"
    static let hourly = packageRoot.appendingPathComponent("pipelines/hourly.yaml").path

    /// Every Parquet file under `dir` (relative path → bytes).
    static func tables(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let e = FileManager.default.enumerator(atPath: dir)!
        for case let p as String in e where p.hasSuffix(".parquet") {
            out[p] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + p))
        }
        return out
    }

    static func run(_ exe: String, _ args: [String], in dir: String) throws {
        let r = try runToCompletion(exe, args, directory: dir)
        try #require(r.status == 0, "\(exe) \(args.joined(separator: " ")): \(r.stderr)")
    }

    /// `redline run pipelines/hourly.yaml` over `segments` into `out`, and every table file it wrote.
    static func hourlyTables(_ redline: String, partition: String, segments: String, metadata: String,
                             out: String, in dir: String) throws -> [String: Data] {
        try run(redline, ["run", hourly, "--partition", partition, "--segments", segments, "--metadata", metadata,
                          "--out", out, "--quiet"], in: dir)
        return try tables(out)
    }

    /// Expects `other` to hold exactly the files of `reference`, byte for byte.
    static func expectSameFiles(_ other: [String: Data], as reference: [String: Data], _ what: String) {
        #expect(Set(other.keys) == Set(reference.keys), "\(what): the same files")
        let differing = reference.keys.filter { other[$0] != reference[$0] }.sorted()
        #expect(differing.isEmpty, "\(what): files differing: \(differing)")
    }

    @Test("bench input as v1, as v2 and mixed (by host and by minute): every hourly table file byte-identical")
    func sameCallsSameTables() throws {
        let redline = try builtProduct("redline")
        let dev = URL(fileURLWithPath: redline).deletingLastPathComponent().appendingPathComponent("redline-dev").path
        let generate = FileManager.default.isExecutableFile(atPath: dev) ? (dev, ["bench-pipeline"]) : (redline, ["dev", "bench-pipeline"])
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("redline-v2-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for v in ["v1", "v2"] {
            try Self.run(generate.0, generate.1 + ["--calls", "12000", "--hosts", "3", "--records", v, "--out", "\(scratch)/\(v)"], in: scratch)
        }
        // Mixed: host bench-00 all v1; the others v1 in even minutes, v2 in odd ones (same paths
        // in both inputs: same hosts, windows and sequences).
        let segments = try FileManager.default.subpathsOfDirectory(atPath: "\(scratch)/v2/segments").filter { $0.hasSuffix(".rls") }.sorted()
        #expect(segments.count == 180)
        var fromV1 = 0
        for (i, p) in segments.enumerated() {
            let v = p.contains("bench-00") || i % 2 == 0 ? "v1" : "v2"
            if v == "v1" { fromV1 += 1 }
            let to = "\(scratch)/mixed/segments/\(p)"
            try FileManager.default.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(scratch)/\(v)/segments/\(p)", toPath: to)
        }
        #expect(fromV1 > 0 && fromV1 < segments.count)
        // The inputs really differ in layout: v1 files declare l7_call version 1, v2 files call_detail.
        let v1Header = try SegmentReader(path: "\(scratch)/v1/segments/\(segments[0])").header
        let v2Header = try SegmentReader(path: "\(scratch)/v2/segments/\(segments[0])").header
        #expect(v1Header.recordTypes.contains(RecordTypeVersion(.l7Call, version: 1)))
        #expect(v2Header.recordTypes.contains(RecordTypeVersion(.callDetail, version: 1)))

        var outputs: [String: [String: Data]] = [:]
        for input in ["v1", "v2", "mixed"] {
            outputs[input] = try Self.hourlyTables(redline, partition: Self.partition, segments: "\(scratch)/\(input)/segments",
                                                   metadata: "\(scratch)/v2/metadata", out: "\(scratch)/out-\(input)", in: scratch)
        }
        let v2 = try #require(outputs["v2"])
        for table in ["red_service", "red_edge", "red_route", "call_chains", "chain_paths"] {
            #expect(v2.keys.contains { $0.hasPrefix(table + "/") }, "the run wrote \(table)")
        }
        for input in ["v1", "mixed"] {
            Self.expectSameFiles(try #require(outputs[input]), as: v2, "\(input) against v2")
        }
    }

    @Test("the lab capture (real traffic, records v1) written again with records v2 (redline-dev recode-segments): every hourly table file byte-identical")
    func recodedCaptureSameTables() throws {
        let redline = try builtProduct("redline")
        let dev = URL(fileURLWithPath: redline).deletingLastPathComponent().appendingPathComponent("redline-dev").path
        let capture = packageRoot.appendingPathComponent("tools/lab/samples/capture").path
        let partition = try String(contentsOfFile: capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let scratch = try makeScratchDirectory("redline-recode").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Self.run(dev, ["recode-segments", "--from", capture + "/segments", "--to", scratch + "/v2"], in: scratch)
        let copies = try FileManager.default.subpathsOfDirectory(atPath: scratch + "/v2").filter { $0.hasSuffix(".rls") }.sorted()
        let originals = try FileManager.default.subpathsOfDirectory(atPath: capture + "/segments").filter { $0.hasSuffix(".rls") }.sorted()
        #expect(!copies.isEmpty && copies == originals)
        for p in copies {
            #expect(try SegmentReader(path: scratch + "/v2/" + p).header.recordTypes.contains(RecordTypeVersion(.callDetail, version: 1)), "\(p)")
        }
        let v1 = try Self.hourlyTables(redline, partition: partition, segments: capture + "/segments",
                                       metadata: capture + "/metadata", out: scratch + "/out-v1", in: scratch)
        let v2 = try Self.hourlyTables(redline, partition: partition, segments: scratch + "/v2",
                                       metadata: capture + "/metadata", out: scratch + "/out-v2", in: scratch)
        #expect(v1.keys.contains { $0.hasPrefix("call_chains/") } && v1.keys.contains { $0.hasPrefix("red_route/") })
        Self.expectSameFiles(v2, as: v1, "the capture's records-v2 copy against the capture")
    }

    @Test("a call whose detail block is damaged is counted in red_service and red_route, under the placeholders")
    func lostDetailsKeepTheCalls() throws {
        let redline = try builtProduct("redline")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("redline-v2d-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let hourStart = L7TablesTests.minute, mono0: UInt64 = 5_000_000_000_000
        let header = SegmentHeader(hostID: "web-1", bootID: BootID(bytes: Array(repeating: 3, count: 16)), windowStartNs: hourStart,
                                   windowEndNs: hourStart + 60_000_000_000, openedMonotonicNs: mono0)
        var options = WriterOptions()
        options.durable = false
        let w = try SegmentWriter(root: scratch + "/segments", header: header, sequence: 0, options: options)
        func anchor(_ offset: UInt64) -> rl_clock_anchor {
            rl_clock_anchor(realtime_ns: hourStart + Int64(offset), monotonic_ns: mono0 + offset, boottime_ns: mono0 + offset,
                            uncertainty_ns: 100, samples: 7, reason: RL_ANCHOR_PERIODIC.rawValue)
        }
        try w.append(anchor(0))
        let n = 50
        for i in 0..<n {
            var c = rl_l7_call()
            c.start_ns = mono0 + 1_000_000_000 + UInt64(i) * 10_000_000
            c.duration_ns = 200_000
            c.local_service = 10
            c.peer_service = 20
            SyntheticSegments.setAddress(&c.laddr, (198, 18, 1, 10))
            SyntheticSegments.setAddress(&c.raddr, (198, 18, 1, 20))
            c.lport = 80
            c.rport = 40000
            c.family = UInt8(RL_FAMILY_INET.rawValue)
            c.l4_proto = 6
            c.l7_proto = UInt8(RL_L7_HTTP1.rawValue)
            c.side = UInt8(RL_SIDE_SERVER.rawValue)
            c.status_code = 200
            c.status_class = UInt8(RL_STATUS_OK.rawValue)
            c.flags = UInt8(RL_CALL_PREFIX_CAPTURED.rawValue)
            var d = rl_call_detail()
            SyntheticSegments.setString(&d.host, "api.lab")
            SyntheticSegments.setString(&d.route, "/v1/items")
            try w.append(call: c, detail: d)
        }
        try w.append(anchor(59_000_000_000))
        try w.seal()
        // At seal the pending blocks are written in type order: calls (2), anchors (4), details (8)
        // last. Damage the detail block's payload: the reader stops there, after every call.
        let detailBlock = try #require(w.blocks.last)
        try #require(detailBlock.recordType == .callDetail)
        let fd = open(w.finalPath, O_RDWR)
        try #require(fd >= 0)
        var byte: UInt8 = 0
        _ = pread(fd, &byte, 1, off_t(detailBlock.offset) + 60)
        byte ^= 0xFF
        _ = pwrite(fd, &byte, 1, off_t(detailBlock.offset) + 60)
        close(fd)

        let r = try runToCompletion(redline, ["run", Self.hourly, "--partition", L7TablesTests.partition.path, "--segments", scratch + "/segments",
                                              "--metadata", packageRoot.appendingPathComponent("tools/lab/samples/metadata").path,
                                              "--out", scratch + "/out", "--quiet"], directory: scratch)
        try #require(r.status == 0, "\(r.stderr)")
        #expect(try L7TablesTests.rows(scratch, "red_service", ["protocol"]) == ["http1": Int64(n)])
        let routes = try L7TablesTests.rows(scratch, "red_route", ["domain", "route"])
        #expect(routes.values.reduce(0, +) == Int64(n), "every call is in red_route")
        #expect(routes.keys.allSatisfy { !$0.contains("api.lab") && !$0.contains("/v1/items") },
                "no call got a name it was not given: \(routes)")
    }
}
