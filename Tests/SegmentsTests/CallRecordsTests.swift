import CRedlineABI
import DevSupport
import Testing
@testable import Segments

/// Records v2 in segments (schemas/records-v2.md): the writer numbers details per segment, a
/// version-1 segment reads as version 2, and readers can leave detail blocks undecoded.
@Suite("Call records v2: details, numbering, version-1 normalisation")
struct CallRecordsTests {
    /// `n` calls 1 ms apart; every third has no strings, the others a trace id, host and route.
    static func calls(_ n: Int) -> [(call: rl_l7_call, detail: rl_call_detail?)] {
        (0..<n).map { i in
            var c = rl_l7_call()
            c.start_ns = 1_000_000 + UInt64(i) * 1_000_000
            c.duration_ns = 1000 + UInt64(i)
            c.l7_proto = UInt8(RL_L7_HTTP1.rawValue)
            c.status_code = 200
            c.req_bytes = UInt32(i)
            guard i % 3 != 2 else { return (c, nil) }
            var d = rl_call_detail()
            withUnsafeMutableBytes(of: &d.trace_id) { $0.storeBytes(of: UInt64(i + 1), as: UInt64.self) }
            SyntheticSegments.setString(&d.host, "h\(i).lab")
            SyntheticSegments.setString(&d.route, "/r/\(i)")
            return (c, d)
        }
    }

    static func header(callVersion: UInt16) -> SegmentHeader {
        var h = testHeader
        h.recordTypes = RecordTypeVersion.current.compactMap {
            if callVersion == 1 && $0.recordType == .callDetail { return nil }
            return $0.recordType == .l7Call ? RecordTypeVersion(.l7Call, version: callVersion) : $0
        }
        return h
    }

    /// Writes `calls` with small blocks (calls and details cut at different points).
    static func write(_ calls: [(call: rl_l7_call, detail: rl_call_detail?)], callVersion: UInt16, to path: String) throws {
        var options = WriterOptions()
        options.blockRawBytes = 1000
        options.durable = false
        let w = try SegmentWriter(finalPath: path, header: header(callVersion: callVersion), options: options)
        for c in calls { try w.append(call: c.call, detail: c.detail) }
        try w.seal()
    }

    /// Every call in file order with its detail found by `detail_seq` (nil when 0), and the blocks.
    static func read(_ path: String, options: ReaderOptions = ReaderOptions())
        throws -> (calls: [rl_l7_call], details: [UInt32: rl_call_detail], blocks: [BlockInfo]) {
        let reader = try SegmentReader(path: path, options: options)
        var calls: [rl_l7_call] = []
        var details: [UInt32: rl_call_detail] = [:]
        while try reader.nextBlock() != nil {
            _ = reader.withCallDetails { for d in $0 { details[d.seq] = d } }
            _ = reader.withRecords(as: rl_l7_call.self) { calls += $0 }
        }
        return (calls, details, reader.blocksRead)
    }

    static func bytes<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    @Test("the writer numbers details 1, 2, … per segment, names them in the calls, and gives detail blocks their calls' times")
    func writerNumbersDetails() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let input = Self.calls(60)
        try Self.write(input, callVersion: 2, to: dir + "/a.rls")
        let (calls, details, blocks) = try Self.read(dir + "/a.rls")
        #expect(calls.count == 60)
        #expect(blocks.filter { $0.recordType == .callDetail }.count > 1 && blocks.filter { $0.recordType == .l7Call }.count > 1)
        var expectedSeq: UInt32 = 0
        for (i, c) in calls.enumerated() {
            var slim = input[i].call
            if let d = input[i].detail {
                expectedSeq += 1
                #expect(c.detail_seq == expectedSeq)
                var want = d
                want.seq = expectedSeq
                #expect(details[c.detail_seq].map(Self.bytes) == Self.bytes(want))
            } else {
                #expect(c.detail_seq == 0)
            }
            slim.detail_seq = c.detail_seq
            #expect(Self.bytes(c) == Self.bytes(slim))
        }
        #expect(details.count == Int(expectedSeq))
        // A detail block spans exactly the calls it describes.
        let reader = try SegmentReader(path: dir + "/a.rls")
        var spans: [UInt32: (UInt64, UInt64)] = [:]
        for c in calls where c.detail_seq != 0 { spans[c.detail_seq] = (c.start_ns, c.start_ns + c.duration_ns) }
        while let b = try reader.nextBlock() {
            _ = reader.withRecords(as: rl_call_detail.self) { ds in
                #expect(b.minKernelNs == ds.map { spans[$0.seq]!.0 }.min())
                #expect(b.maxKernelNs == ds.map { spans[$0.seq]!.1 }.max())
            }
        }
        // A second segment numbers from 1 again.
        try Self.write(Array(input.suffix(5)), callVersion: 2, to: dir + "/b.rls")
        #expect(try Self.read(dir + "/b.rls").calls.map(\.detail_seq) == [1, 0, 2, 3, 0])
    }

    @Test("a version-1 segment reads as the same calls and details, numbered by call ordinal")
    func version1IsNormalised() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let input = Self.calls(60)
        try Self.write(input, callVersion: 1, to: dir + "/v1.rls")
        let reader = try SegmentReader(path: dir + "/v1.rls")
        #expect(reader.header.recordTypes.contains(RecordTypeVersion(.l7Call, version: 1)))
        let (calls, details, blocks) = try Self.read(dir + "/v1.rls")
        #expect(blocks.allSatisfy { $0.recordType != .callDetail })
        #expect(blocks.filter { $0.recordType == .l7Call }.allSatisfy { $0.rawLength == $0.recordCount * 240 })
        #expect(calls.count == 60)
        for (i, c) in calls.enumerated() {
            var slim = input[i].call
            slim.detail_seq = input[i].detail == nil ? 0 : UInt32(i + 1)
            #expect(Self.bytes(c) == Self.bytes(slim))
            if var d = input[i].detail {
                d.seq = UInt32(i + 1)
                #expect(details[c.detail_seq].map(Self.bytes) == Self.bytes(d))
            }
        }
        #expect(details.count == input.filter { $0.detail != nil }.count)

        // A reader that needs no names gets the same slim calls and no details; one that wants
        // only details still decodes the version-1 blocks, which carry them.
        var red = ReaderOptions()
        red.decompressTypes = [.l7Call]
        let slim = try Self.read(dir + "/v1.rls", options: red)
        #expect(slim.calls.map(Self.bytes) == calls.map(Self.bytes) && slim.details.isEmpty)
        var names = ReaderOptions()
        names.decompressTypes = [.callDetail]
        #expect(try Self.read(dir + "/v1.rls", options: names).details.mapValues(Self.bytes) == details.mapValues(Self.bytes))
    }

    @Test("detail blocks left out of decompressTypes are checked but not decoded")
    func detailsSkipped() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        try Self.write(Self.calls(60), callVersion: 2, to: dir + "/a.rls")
        var red = ReaderOptions()
        red.decompressTypes = Set(RecordType.allCases).subtracting([.callDetail])
        let reader = try SegmentReader(path: dir + "/a.rls", options: red)
        var detailBlocks = 0, calls = 0
        while let b = try reader.nextBlock() {
            if b.recordType == .callDetail {
                detailBlocks += 1
                #expect(reader.currentRawRecords.isEmpty)
                #expect(reader.withCallDetails { $0.count } == 0)
            }
            calls += reader.withRecords(as: rl_l7_call.self) { $0.count } ?? 0
        }
        #expect(detailBlocks > 1 && calls == 60)
    }

    @Test("l7_call version 1 with call_detail in one header is refused by writer and reader")
    func version1WithDetailsRefused() throws {
        var h = testHeader
        h.recordTypes = RecordTypeVersion.current.map { $0.recordType == .l7Call ? RecordTypeVersion(.l7Call, version: 1) : $0 }
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        #expect(throws: SegmentError.self) { try SegmentWriter(finalPath: dir + "/x.rls", header: h) }
        let d = decode(h.encoded())
        guard case .invalidHeader? = d.error else {
            Issue.record("expected invalidHeader, got \(String(describing: d.error))")
            return
        }
    }

    @Test("inspect's rendering shows a version-1 call followed by the detail it becomes")
    func renderingOfVersion1() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        try Self.write(Array(Self.calls(3)), callVersion: 1, to: dir + "/v1.rls")
        let reader = try SegmentReader(path: dir + "/v1.rls")
        var lines: [String] = []
        while try reader.nextBlock() != nil { lines += RecordJSON.renderCurrentBlock(of: reader) }
        #expect(lines.count == 5)
        #expect(lines[0].hasPrefix(#"{"type":"l7_call""#) && lines[0].hasSuffix(#""detail_seq":1}"#))
        #expect(lines[1] == #"{"type":"call_detail","seq":1,"trace_id":"01000000000000000000000000000000","span_id":"","host":"h0.lab","route":"/r/0"}"#)
        #expect(lines[4].hasSuffix(#""detail_seq":0}"#))
    }
}
