import CRedlineABI
import DevSupport
import Foundation
import Testing
@testable import Segments

/// The golden fixture, checked field by field against the values schemas/segment-v1.md
/// documents ("Golden fixture" section). If this test and the spec disagree, one of them is wrong.
@Suite("Golden fixture")
struct GoldenTests {
    struct Block {
        var offset: UInt64, type: RecordType, count: UInt32, raw: UInt32, stored: UInt32, min: UInt64, max: UInt64, crc: UInt32
    }

    /// The block table of schemas/segment-v1.md, "Golden fixture".
    static let blocks: [Block] = [
        Block(offset: 104, type: .flowDelta, count: 2, raw: 224, stored: 109, min: 5_000_000_000, max: 5_001_500_000, crc: 0xD01A_91D0),
        Block(offset: 264, type: .l7Call, count: 1, raw: 240, stored: 99, min: 5_002_000_000, max: 5_002_250_000, crc: 0x3D12_0EBE),
        Block(offset: 416, type: .flowDelta, count: 1, raw: 112, stored: 67, min: 5_002_000_000, max: 5_002_500_000, crc: 0x5D00_0C14),
        Block(offset: 536, type: .l7Call, count: 1, raw: 240, stored: 100, min: 5_003_000_000, max: 5_003_251_000, crc: 0x75EA_3898),
        Block(offset: 688, type: .tcpEvent, count: 1, raw: 72, stored: 42, min: 5_003_000_000, max: 5_003_000_000, crc: 0x9B03_3337),
        Block(offset: 784, type: .clockAnchor, count: 2, raw: 80, stored: 64, min: 5_000_000_000, max: 5_005_000_000, crc: 0xFE23_C9E9),
        Block(offset: 896, type: .stats, count: 2, raw: 64, stored: 43, min: 5_004_000_000, max: 5_004_000_000, crc: 0x7DC3_17B7),
        Block(offset: 992, type: .cgroupMapping, count: 1, raw: 392, stored: 132, min: 5_000_000_500, max: 5_000_000_500, crc: 0xC391_383E),
    ]

    @Test("header, blocks, footer and trailer match the values the spec documents")
    func fieldByField() throws {
        let bytes = readFile(goldenPath)
        #expect(bytes.count == 1592)
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * $1) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) } }

        // Header, raw bytes at the documented offsets.
        #expect(Array(bytes[0..<8]) == [0x89, 0x52, 0x4C, 0x53, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(u16(8) == 1 && u16(10) == 0 && u32(12) == 104)
        #expect(Array(bytes[16..<32]) == [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])
        #expect(Int64(bitPattern: u64(32)) == 1_767_323_040_000_000_000)
        #expect(Int64(bitPattern: u64(40)) == 1_767_323_100_000_000_000)
        #expect(u64(48) == 5_000_000_000)
        #expect(u16(56) == 11 && u16(58) == 6 && u32(60) == 0)
        #expect((0..<6).map { u16(64 + 4 * $0) } == [1, 2, 3, 4, 5, 6])
        #expect((0..<6).map { u16(66 + 4 * $0) } == [1, 1, 1, 1, 1, 1])
        #expect(String(decoding: bytes[88..<99], as: UTF8.self) == "golden-host")
        #expect(bytes[99..<100].allSatisfy { $0 == 0 })
        #expect(u32(100) == 0x9D4D_4333)

        // Blocks.
        for (i, b) in Self.blocks.enumerated() {
            let o = Int(b.offset)
            #expect(Array(bytes[o..<(o + 4)]) == Array("RLBK".utf8), "block \(i)")
            #expect(u16(o + 4) == b.type.rawValue && u16(o + 6) == 1 && u32(o + 8) == UInt32(i), "block \(i)")
            #expect(u32(o + 12) == b.count && u32(o + 16) == b.raw && u32(o + 20) == b.stored, "block \(i)")
            #expect(u64(o + 24) == b.min && u64(o + 32) == b.max && u32(o + 40) == 0, "block \(i)")
            #expect(u32(o + 44) == b.crc, "block \(i)")
            let next = i + 1 < Self.blocks.count ? Int(Self.blocks[i + 1].offset) : 1176
            #expect(o + 48 + SegmentFormat.align8(Int(b.stored)) == next, "block \(i)")
        }

        // Footer and trailer.
        #expect(Array(bytes[1176..<1180]) == Array("RLFT".utf8))
        #expect(u32(1180) == 8 && u64(1184) == 11 && u64(1192) == 5_000_000_000 && u64(1200) == 5_005_000_000 && u16(1208) == 6)
        let typeCounts: [(UInt16, UInt32, UInt64)] = [(1, 2, 3), (2, 2, 2), (3, 1, 1), (4, 1, 2), (5, 1, 2), (6, 1, 1)]
        for (i, t) in typeCounts.enumerated() {
            let o = 1216 + 16 * i
            #expect(u16(o) == t.0 && u32(o + 4) == t.1 && u64(o + 8) == t.2, "type count \(i)")
        }
        for (i, b) in Self.blocks.enumerated() {
            let o = 1312 + 32 * i
            #expect(u64(o) == b.offset && u32(o + 8) == b.count && u16(o + 12) == b.type.rawValue, "index \(i)")
            #expect(u64(o + 16) == b.min && u64(o + 24) == b.max, "index \(i)")
        }
        #expect(u64(1568) == 1176 && u32(1576) == 392 && u32(1580) == 0xE31A_9074)
        #expect(Array(bytes[1584..<1592]) == Array("RLSEGEND".utf8))
    }

    @Test("the reader's view of the golden fixture matches the spec")
    func readerView() throws {
        let reader = try SegmentReader(path: goldenPath)
        let h = reader.header
        #expect(h.hostID == "golden-host")
        #expect(h.bootID.description == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(h.windowStartNs == 1_767_323_040_000_000_000 && h.windowEndNs == 1_767_323_100_000_000_000)
        #expect(h.openedMonotonicNs == 5_000_000_000)
        // The fixture is frozen at flow_delta layout 1 (collectors before link bytes), l7_call
        // layout 1 (before records v2) and before the loss record: readers normalise it.
        #expect(h.recordTypes == [RecordTypeVersion(.flowDelta, version: 1), RecordTypeVersion(.l7Call, version: 1)]
            + (3...6).map { RecordTypeVersion(RecordType(rawValue: $0)!, version: 1) })
        var json: [String] = []
        while try reader.nextBlock() != nil { json += RecordJSON.renderCurrentBlock(of: reader) }
        #expect(reader.ending == .sealed)
        #expect(reader.blocksRead.map(\.offset) == Self.blocks.map(\.offset))
        #expect(reader.footer?.recordCount == 11)
        // Eleven records, the two version-1 calls each followed by the detail it becomes.
        #expect(json.count == 13)
        #expect(json[0] == #"{"type":"flow_delta","start_ns":5000000000,"end_ns":5000500000,"cgroup_id":0,"laddr":"198.18.0.10","raddr":"198.18.1.20","lport":40000,"rport":80,"family":"inet","l4_proto":"tcp","l7_proto":"http1","side":"client","classid":0,"local_service":0,"peer_service":0,"flags":["opened","layout_v1"],"tx_bytes":1000,"rx_bytes":5000,"tx_packets":3,"rx_packets":5,"tx_payload_bytes":0,"rx_payload_bytes":0}"#)
        #expect(json[5].contains(#""status_code":503,"status_class":"server_error""#))
        #expect(json[5].hasSuffix(#""detail_seq":2}"#))
        #expect(json[6] == #"{"type":"call_detail","seq":2,"trace_id":"","span_id":"","host":"api.golden","route":"/v1/orders"}"#)
        #expect(json[8] == #"{"type":"clock_anchor","realtime_ns":1767323040000000100,"realtime_utc":"2026-01-02T03:04:00.000000100Z","monotonic_ns":5000000000,"boottime_ns":5000000000,"uncertainty_ns":150,"samples":5,"reason":"start"}"#)
        #expect(json[12].contains(#""pod_uid":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0""#))
    }

    /// A segment's records as JSON lines, grouped by record type (file order within a type), the
    /// reader's `layout_v1` flag left out and each call joined with its detail's strings (seq
    /// numbers left out): a file written with today's layouts and one frozen at flow_delta
    /// layout 1 and l7_call layout 1 (whose blocks are cut elsewhere and whose details are
    /// synthesised) then compare record for record.
    static func recordsIgnoringLayout(_ path: String) throws -> [String] {
        let reader = try SegmentReader(path: path)
        var byType: [RecordType: [String]] = [:]
        var calls: [(json: String, seq: UInt32)] = []
        var details: [UInt32: String] = [:]
        while let block = try reader.nextBlock() {
            _ = reader.withCallDetails { ds in
                for var d in ds {
                    details[d.seq] = withUnsafeBytes(of: &d) { RecordJSON.render(type: .callDetail, record: $0.baseAddress!) }
                        .replacing(/"seq":\d+,/, with: "")
                }
            }
            if block.recordType == .callDetail { continue }
            let size = block.recordType.recordSize
            for i in 0..<Int(block.recordCount) {
                let record = reader.currentRawRecords.baseAddress! + i * size
                let json = RecordJSON.render(type: block.recordType, record: record)
                    .replacingOccurrences(of: #","layout_v1""#, with: "").replacingOccurrences(of: #""layout_v1""#, with: "")
                if block.recordType == .l7Call {
                    calls.append((json.replacing(/,"detail_seq":\d+/, with: ""), record.loadUnaligned(as: rl_l7_call.self).detail_seq))
                } else {
                    byType[block.recordType, default: []].append(json)
                }
            }
        }
        byType[.l7Call] = calls.map { $0.json + ($0.seq == 0 ? "" : " " + (details[$0.seq] ?? "missing detail")) }
        return RecordType.allCases.flatMap { byType[$0] ?? [] }
    }

    @Test("the committed generator writes the golden fixture's records (the fixture keeps flow_delta layout 1)")
    func regenerate() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        try SyntheticSegments.writeGolden(to: dir + "/golden.rls")
        let written = try Self.recordsIgnoringLayout(dir + "/golden.rls")
        #expect(written.count == 11)
        #expect(written == (try Self.recordsIgnoringLayout(goldenPath)))
    }

    @Test("the committed generator writes the demo samples' records (the samples keep flow_delta layout 1)")
    func samplesReproducible() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let here = "\(#filePath)"
        let root = String(here[..<here.range(of: "/Tests/SegmentsTests/")!.lowerBound])
        let committed = root + "/tools/lab/samples/segments"
        let paths = try SyntheticSegments.writeSamples(root: dir + "/s")
        #expect(paths.count == 5)
        var total = 0
        for p in paths {
            let relative = String(p.dropFirst((dir + "/s").count))
            total += readFile(committed + relative).count
            #expect(try Self.recordsIgnoringLayout(p) == Self.recordsIgnoringLayout(committed + relative), "\(relative)")
        }
        #expect(total < 1 << 20)
    }

    @Test("addresses render as IPv4 dotted quads or RFC 5952 IPv6")
    func addresses() {
        func addr(_ b: [UInt8]) -> String {
            var t = rl_flow_delta()
            withUnsafeMutableBytes(of: &t.laddr) { for i in 0..<16 { $0[i] = b[i] } }
            return RecordJSON.address(t.laddr)
        }
        #expect(addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 198, 18, 0, 1]) == "198.18.0.1")
        #expect(addr([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:db8::1")
        #expect(addr([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:db8:0:1::1")
        #expect(addr(Array(repeating: 0, count: 16)) == "::")
        #expect(addr([0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]) == "1:0:1:1:1:1:1:1")
    }
}
