import CRedlineABI
import DevSupport
import Enrichment
import RedlineBase
import Testing
import Timebase
@testable import Aggregates

/// `HostAggregation.calls`: a block without one time offset (clock anchors fall inside it, one
/// of them with a step) is taken by halves; its rows, counters, watermark and time bound equal
/// those of the same calls given one block per call.
@Suite struct HostAggregationTests {
    static let start: Int64 = 1_767_322_800_000_000_000  // 2026-01-02T03:00:00Z
    static let firstMono: UInt64 = 1_000_000_000_000

    /// Anchors every 10 s from `firstMono`, the offset stepping by 2 ms after the fourth and
    /// drifting by 3 ns after the sixth.
    static var timeline: Timeline {
        var offset = start + 5_000_000_000 - Int64(firstMono)
        var anchors: [ClockAnchor] = []
        for k in 0..<9 {
            let mono = firstMono + UInt64(k) * 10_000_000_000
            anchors.append(ClockAnchor(realtimeNanos: Int64(mono) + offset, monotonicNanos: mono, boottimeNanos: mono,
                                       uncertaintyNanos: 1_000 + UInt64(k) * 300, samples: 7, reason: .periodic))
            if k == 3 { offset += 2_000_000 }
            if k == 5 { offset += 3 }
        }
        return Timeline(bootID: BootID(bytes: [UInt8](repeating: 3, count: 16)), anchors: anchors)
    }

    /// Calls in about time order over 80 s of the timeline: a few shapes, both sides, every
    /// status class, some unpaired, durations from 0 up.
    static func calls() -> [rl_l7_call] {
        var rng = SplitMix64(seed: 15)
        return (0..<3_000).map { i in
            var c = rl_l7_call()
            c.start_ns = firstMono + UInt64(i) * 26_000_000 + rng.below(40_000_000)
            c.duration_ns = rng.chance(0.02) ? 0 : 1 << rng.below(30) + rng.below(1_000_000)
            c.cgroup_id = 100 + rng.below(3)
            c.local_service = UInt32(1 + rng.below(4))
            c.peer_service = UInt32(rng.below(5))
            SyntheticSegments.setAddress(&c.laddr, (198, 18, 0, UInt8(1 + rng.below(3))))
            SyntheticSegments.setAddress(&c.raddr, (198, 19, 0, UInt8(1 + rng.below(6))))
            c.l4_proto = rng.chance(0.1) ? 17 : 6
            c.l7_proto = UInt8(1 + rng.below(3))
            c.side = UInt8(rng.chance(0.5) ? RL_SIDE_SERVER.rawValue : RL_SIDE_CLIENT.rawValue)
            c.status_class = UInt8(rng.below(4))
            c.flags = rng.chance(0.05) ? UInt8(RL_CALL_UNPAIRED.rawValue) : 0
            c.req_bytes = UInt32(rng.below(5_000))
            c.resp_bytes = UInt32(rng.below(50_000))
            return c
        }
    }

    /// The aggregation of `blocks` (ranges of `calls`) in turn.
    static func aggregate(_ calls: [rl_l7_call], _ blocks: [Range<Int>])
        -> (aggregates: PartitionAggregates, counters: AggregationCounters, watermark: Int64?) {
        var names = NamePool()
        var state = HostAggregation(startNanos: start, endNanos: start + 3_600_000_000_000, bucketNanos: 10_000_000_000,
                                    histogramScale: 4, enrichment: EnrichmentCache(metadata: Metadata(), cgroups: [:], names: &names),
                                    tables: AggregatedTables(redEdge: true, trafficMatrix: true, tcpHealth: false, tcpDrops: false),
                                    names: &names)
        state.cursor = timeline.makeCursor()
        calls.withUnsafeBufferPointer { all in
            for r in blocks { state.calls(UnsafeBufferPointer(rebasing: all[r]), names: &names) }
        }
        return state.finish(names: &names)
    }

    @Test func blockWithoutOneOffsetEqualsCallByCall() throws {
        let calls = Self.calls()
        var cursor = Self.timeline.makeCursor()
        #expect(cursor.blockCorrection(first: calls.map(\.start_ns).min()!, last: calls.map(\.start_ns).max()!) == nil,
                "the block must lack one offset, or the halves are not exercised")
        let whole = Self.aggregate(calls, [0..<calls.count])
        let single = Self.aggregate(calls, calls.indices.map { $0..<$0 + 1 })
        #expect(whole.counters == single.counters)
        #expect(whole.counters.aggregated == UInt64(calls.count))
        #expect(whole.watermark == single.watermark)
        let a = whole.aggregates, b = single.aggregates
        #expect(a.redService.groupCount > 10 && a.redEdge.groupCount > 10 && a.traffic.groupCount > 10)
        #expect(a.redService.sortedRows().map(\.key) == b.redService.sortedRows().map(\.key))
        #expect(a.redService.sortedRows().map(\.cell) == b.redService.sortedRows().map(\.cell))
        #expect(a.redEdge.sortedRows().map(\.key) == b.redEdge.sortedRows().map(\.key))
        #expect(a.redEdge.sortedRows().map(\.cell) == b.redEdge.sortedRows().map(\.cell))
        #expect(a.traffic.sortedRows().map(\.key) == b.traffic.sortedRows().map(\.key))
        #expect(a.traffic.sortedRows().map(\.cell) == b.traffic.sortedRows().map(\.cell))
    }
}
