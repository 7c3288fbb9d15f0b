import CRedlineABI
import Foundation
@testable import Pipeline
import Segments
import Testing
import Timebase

/// The time-correction error bound reaches the manifest (issue 11, "carry what is computed").
@Suite("Time-correction bound per host in the manifest")
struct TimeBoundTests {
    @Test("each host's maxTimeUncertaintyNanos is the largest bound of the records it aggregated, recomputed from its segments")
    func boundPerHost() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        let m = try s.run().manifest
        #expect(m.manifestVersion == 3)
        let partition = HourlyRunTests.partition
        let byHost = try SegmentInputs.discover(root: s.segments, hostGlobs: ["*"], partition: partition)
        #expect(Set(m.hosts.keys) == Set(byHost.keys))
        for (host, files) in byHost {
            // An independent recomputation: every anchor, one timeline per boot, then every
            // call, flow delta and TCP event that lands in the partition.
            var anchors: [Timebase.BootID: [rl_clock_anchor]] = [:]
            var times: [(Timebase.BootID, UInt64)] = []
            for file in files {
                let r = try SegmentReader(path: file, allowUnsealed: true)
                let boot = Timebase.BootID(uuidBytes: r.header.bootID.bytes)
                while let info = try r.nextBlock() {
                    switch info.recordType {
                    case .clockAnchor: _ = r.withRecords(as: rl_clock_anchor.self) { anchors[boot, default: []] += $0 }
                    case .l7Call: _ = r.withRecords(as: rl_l7_call.self) { times += $0.map { (boot, $0.start_ns) } }
                    case .flowDelta: _ = r.withRecords(as: rl_flow_delta.self) { times += $0.map { (boot, $0.end_ns) } }
                    case .tcpEvent: _ = r.withRecords(as: rl_tcp_event.self) { times += $0.map { (boot, $0.ts_ns) } }
                    default: break
                    }
                }
            }
            let timebase = HostTimebase(recordsByBoot: anchors)
            var expected: UInt64?
            for (boot, mono) in times {
                guard var c = timebase.timelines[boot]?.makeCursor(), case .success(let t) = c.correct(monotonicNanos: mono),
                      t.utcNanos >= partition.startNanos, t.utcNanos < partition.endNanos else { continue }
                expected = max(expected ?? 0, t.uncertaintyNanos)
            }
            let bound = try #require(m.hosts[host]?.maxTimeUncertaintyNanos, "host \(host) has no bound")
            #expect(bound == expected, "host \(host)")
            #expect(bound > 0 && bound < 60_000_000_000, "host \(host): a bound is at least 1 ns and well under a bucket")
        }
    }
}
