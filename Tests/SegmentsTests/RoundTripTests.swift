import CRedlineABI
import DevSupport
import Testing
@testable import Segments

@Suite("Segment round trip")
struct RoundTripTests {
    @Test("every record type round-trips byte for byte, in order, across many blocks")
    func everyType() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        var rng = SplitMix64(seed: 1)
        var options = WriterOptions()
        options.blockRawBytes = 4096
        options.durable = false
        let path = dir + "/rt.rls"
        let writer = try SegmentWriter(finalPath: path, header: testHeader, options: options)
        var expected: [RecordType: [UInt8]] = [:]
        // Interleave types in small batches, as the ring buffer delivers them.
        for round in 0..<20 {
            for type in RecordType.allCases {
                let bytes = randomRecords(type, count: 1 + (round * 7 + Int(type.rawValue)) % 13, rng: &rng)
                try bytes.withBytes { (b) throws(SegmentError) in try writer.appendRaw(type: type, records: b) }
                expected[type, default: []] += bytes
            }
        }
        let footer = try writer.seal()

        let reader = try SegmentReader(path: path)
        #expect(reader.header == testHeader)
        var got: [RecordType: [UInt8]] = [:]
        var blockCount = 0
        while let block = try reader.nextBlock() {
            blockCount += 1
            #expect(reader.currentRawRecords.count == Int(block.rawLength))
            got[block.recordType, default: []] += Array(reader.currentRawRecords)
        }
        #expect(reader.ending == .sealed)
        #expect(blockCount > RecordType.allCases.count)
        #expect(reader.footer == footer)
        for type in RecordType.allCases {
            #expect(got[type] == expected[type], "records of \(type) differ")
        }
        let total = RecordType.allCases.reduce(0) { $0 + expected[$1]!.count / $1.recordSize }
        #expect(footer.recordCount == UInt64(total))
    }

    @Test("typed records view the decompressed bytes without copying and match what was written")
    func typedAccess() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        var options = WriterOptions()
        options.durable = false
        let path = dir + "/typed.rls"
        let writer = try SegmentWriter(finalPath: path, header: testHeader, options: options)
        for i in 0..<1000 {
            var f = rl_flow_delta()
            f.start_ns = UInt64(i) * 10
            f.end_ns = UInt64(i) * 10 + 5
            f.tx_bytes = UInt64(i) * 3
            f.lport = UInt16(i)
            try writer.append(f)
            if i % 10 == 0 {
                var c = rl_l7_call()
                c.start_ns = UInt64(i)
                c.duration_ns = 7
                c.status_code = UInt16(i)
                try writer.append(c)
            }
        }
        try writer.seal()
        let reader = try SegmentReader(path: path)
        var flows: [UInt64] = []
        var codes: [UInt16] = []
        while try reader.nextBlock() != nil {
            reader.withRecords(as: rl_flow_delta.self) { buf in
                #expect(buf.baseAddress.map { UnsafeRawPointer($0) } == reader.currentRawRecords.baseAddress)
                flows += buf.map(\.tx_bytes)
            }
            reader.withRecords(as: rl_l7_call.self) { buf in codes += buf.map(\.status_code) }
            #expect(reader.withRecords(as: rl_cgroup_mapping.self) { _ in 1 } == nil)
        }
        #expect(flows == (0..<1000).map { UInt64($0) * 3 })
        #expect(codes == stride(from: 0, to: 1000, by: 10).map { UInt16($0) })
    }

    @Test("block min/max kernel times follow each type's time fields")
    func kernelTimes() throws {
        #expect(MemoryLayout<rl_flow_delta>.offset(of: \.start_ns) == 0)
        #expect(MemoryLayout<rl_flow_delta>.offset(of: \.end_ns) == 8)
        #expect(MemoryLayout<rl_l7_call>.offset(of: \.duration_ns) == 8)
        #expect(MemoryLayout<rl_clock_anchor>.offset(of: \.monotonic_ns) == 8)
        #expect(MemoryLayout<rl_tcp_event>.offset(of: \.ts_ns) == 0)
        #expect(MemoryLayout<rl_stats>.offset(of: \.ts_ns) == 0)
        #expect(MemoryLayout<rl_cgroup_mapping>.offset(of: \.ts_ns) == 0)
        for type in RecordType.allCases {
            #expect(type.recordSize % 8 == 0 && type.recordSize > 0)
            #expect(type.currentVersion == (type == .flowDelta || type == .l7Call ? 2 : 1))
        }
        var c = rl_l7_call()
        c.start_ns = 100
        c.duration_ns = 50
        let span = withUnsafeBytes(of: &c) { RecordType.l7Call.kernelTimeSpan(of: $0.baseAddress!) }
        #expect(span.low == 100 && span.high == 150)
        // A detail has no time of its own: an empty span, neutral in a block's min/max.
        var d = rl_call_detail()
        let none = withUnsafeBytes(of: &d) { RecordType.callDetail.kernelTimeSpan(of: $0.baseAddress!) }
        #expect(none.low > none.high)
    }

    @Test("writer memory stays one block per type in use, whatever the segment size")
    func writerMemoryBounded() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        var options = WriterOptions()
        options.durable = false
        var sizes: [Int] = []
        for (i, count) in [1_000, 200_000].enumerated() {
            let writer = try SegmentWriter(finalPath: dir + "/m\(i).rls", header: testHeader, options: options)
            var f = rl_flow_delta()
            for n in 0..<count {
                f.start_ns = UInt64(n)
                try writer.append(f)
            }
            sizes.append(writer.bufferBytes)
            try writer.seal()
        }
        #expect(sizes[0] == sizes[1])
        #expect(sizes[1] < 2 * options.blockRawBytes + 4096)
    }

    @Test("blocks are cut when a record is older than the block age allows")
    func ageCut() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        var options = WriterOptions()
        options.durable = false
        options.maxBlockAgeNs = 1000
        let writer = try SegmentWriter(finalPath: dir + "/age.rls", header: testHeader, options: options)
        var s = rl_stats()
        for t: UInt64 in [0, 500, 1000, 1001, 1500, 2002] {
            s.ts_ns = t
            try writer.append(s)
        }
        try writer.seal()
        #expect(writer.blocks.map(\.recordCount) == [3, 2, 1])
        #expect(writer.blocks.map(\.minKernelNs) == [0, 1001, 2002])
    }

    @Test("wrong-sized raw records and appends after seal are typed errors")
    func writerMisuse() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let writer = try SegmentWriter(finalPath: dir + "/x.rls", header: testHeader)
        let bytes = [UInt8](repeating: 0, count: 100)
        #expect(throws: SegmentError.self) {
            try bytes.withBytes { (b) throws(SegmentError) in try writer.appendRaw(type: .flowDelta, records: b) }
        }
        try writer.seal()
        #expect(throws: SegmentError.self) { try writer.append(rl_stats()) }
        #expect(throws: SegmentError.self) { try SegmentWriter(finalPath: dir + "/x.rls.bad", header: testHeader) }
        var future = testHeader
        future.recordTypes[0].version = 99
        #expect(throws: SegmentError.self) { try SegmentWriter(finalPath: dir + "/y.rls", header: future) }
        var tooSmall = WriterOptions()
        tooSmall.blockRawBytes = 0
        #expect(throws: SegmentError.self) { try SegmentWriter(finalPath: dir + "/z.rls", header: testHeader, options: tooSmall) }
    }

    @Test("segment paths partition by host, UTC date and hour")
    func paths() throws {
        let p = try SegmentPath(root: "/data", host: "web-1.dc1", windowStartNs: 1_767_323_040_000_000_000, sequence: 3)
        #expect(p.sealed == "/data/host=web-1.dc1/date=2026-01-02/hour=03/20260102T030400Z-000003.rls")
        #expect(p.open == "/data/host=web-1.dc1/date=2026-01-02/hour=03/20260102T030400Z-000003.rls.open")
        let leap = try SegmentPath(root: "r", host: "h", windowStartNs: 1_709_164_799_000_000_000, sequence: 0)
        #expect(leap.directory == "r/host=h/date=2024-02-28/hour=23")
        #expect(throws: SegmentError.self) { try SegmentPath(root: "r", host: "../etc", windowStartNs: 0, sequence: 0) }
        #expect(throws: SegmentError.self) { try SegmentPath(root: "r", host: "", windowStartNs: 0, sequence: 0) }
    }
}
