import CRedlineABI
import Foundation
import Segments
import Testing
@testable import Collector
import RedlineBase

@Suite struct SegmentSinkTests {
    final class FakeClock: @unchecked Sendable {
        var now: Int64 = 1_767_322_800_000_000_000 // 2026-01-02T03:00:00Z
    }

    func readAll(_ path: String) throws -> (header: SegmentHeader, types: [RecordType], anchors: Int, mappings: Int, flows: Int) {
        let r = try SegmentReader(path: path)
        var types: [RecordType] = [], anchors = 0, mappings = 0, flows = 0
        while let b = try r.nextBlock() {
            types.append(b.recordType)
            switch b.recordType {
            case .clockAnchor: anchors += Int(b.recordCount)
            case .cgroupMapping: mappings += Int(b.recordCount)
            case .flowDelta: flows += Int(b.recordCount)
            default: break
            }
        }
        return (r.header, types, anchors, mappings, flows)
    }

    @Test func rotatesAtWindowEndsAndBySizeAndSealsEverySegment() throws {
        let root = try makeTempDir("sink")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let clock = FakeClock()
        var opts = WriterOptions()
        opts.durable = false
        opts.blockRawBytes = 4096
        let sink = SegmentSink(root: root, host: "h1", bootID: try #require(try BootID.current()), windowSeconds: 60,
                               maxSegmentBytes: 1 << 10, writerOptions: opts, realtime: { clock.now })
        var mapping = rl_cgroup_mapping()
        mapping.cgroup_id = 42
        mapping.service_id = 7
        sink.preamble = { [mapping] }
        var sealed: [String] = []
        sink.onSeal = { path, _ in sealed.append(path) }

        var flow = rl_flow_delta()
        flow.tx_bytes = 100
        try sink.append(flow)
        clock.now += 61_000_000_000 // the minute is over
        try sink.tick(monotonicNowNanos: 0)
        #expect(sealed.count == 1)
        try sink.append(flow)
        // Past the size cap (1 KiB on disk), the same window rotates to seq 1, 2, ….
        var rng = SystemRandomNumberGenerator()
        for i in 0..<1000 {
            flow.start_ns = UInt64(i) * 1_000_003
            flow.tx_bytes = rng.next()
            try sink.append(flow)
        }
        try sink.close()
        #expect(sink.openPath == nil)
        #expect(sealed.count >= 3)
        #expect(sealed[0].hasSuffix("hour=03/20260102T030000Z-000000.rls"))
        #expect(sealed[1].hasSuffix("hour=03/20260102T030100Z-000000.rls"))
        #expect(sealed[2].hasSuffix("hour=03/20260102T030100Z-000001.rls"))
        var flows = 0
        for p in sealed {
            let f = try readAll(p)
            #expect(f.header.hostID == "h1")
            #expect(f.types.first == .clockAnchor, "every segment starts with an anchor")
            #expect(f.anchors >= 2, "an anchor at open and one at seal")
            #expect(f.mappings == 1, "every segment carries the cgroup mappings")
            flows += f.flows
        }
        #expect(flows == 1002)
    }

    @Test func neverOverwritesAnOpenSegmentLeftByACrash() throws {
        let root = try makeTempDir("sink-crash")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let clock = FakeClock()
        var opts = WriterOptions()
        opts.durable = false
        let first = SegmentSink(root: root, host: "h1", bootID: try #require(try BootID.current()), windowSeconds: 60,
                                maxSegmentBytes: 1 << 20, writerOptions: opts, realtime: { clock.now })
        try first.append(rl_flow_delta())
        let leftOpen = try #require(first.openPath)
        // A second collector (after a crash) in the same window must not touch the first one's file.
        let second = SegmentSink(root: root, host: "h1", bootID: try #require(try BootID.current()), windowSeconds: 60,
                                 maxSegmentBytes: 1 << 20, writerOptions: opts, realtime: { clock.now })
        try second.append(rl_flow_delta())
        #expect(second.openPath != leftOpen)
        #expect(second.openPath?.hasSuffix("-000001.rls.open") == true)
        try second.close()
        #expect(FileManager.default.fileExists(atPath: leftOpen))
    }
}
