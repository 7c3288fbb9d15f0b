import KernelProbes
import Segments
import Testing
@testable import Collector

@Suite("The collector's health samples")
struct CollectorHealthTests {
    @Test("each counted record kind gets its read, emitted and dropped series; values come from the snapshot")
    func samplesFollowTheSnapshot() {
        var kernel = KernelStats()
        kernel.emitted[2] = 40
        kernel.rateCapped[1] = 3
        kernel.filtered = 9
        var read = [UInt64](repeating: 0, count: 8)
        read[2] = 37
        var dropped = [UInt64](repeating: 0, count: 8)
        dropped[3] = 5
        let health = CollectorHealth(kernel: kernel, read: read, userDropped: dropped, listenerWalk: nil, sealedSegments: 4,
                                     sealedBytes: 1 << 20, deletedSegments: 1, writeErrors: 2, writesSuspended: true,
                                     maxPollLagNanos: 1_500_000_000, cpuSeconds: 0.25, residentBytes: 1 << 24,
                                     ruleHits: [:], rules: nil)
        let s = health.samples
        func value(_ name: String, _ labels: [(String, String)] = []) -> Double? {
            s.first { $0.name == name && $0.labels.elementsEqual(labels, by: ==) }?.value
        }
        #expect(Set(s.filter { $0.name == "redline_events_read_total" }.map { $0.labels[0].1 })
                == ["flow_delta", "l7_call", "tcp_event", "clock_anchor", "stats", "cgroup_mapping"])
        #expect(value("redline_events_read_total", [("kind", "l7_call")]) == 37)
        #expect(value("redline_kernel_events_emitted_total", [("kind", "l7_call")]) == 40)
        #expect(value("redline_events_dropped_total", [("kind", "flow_delta"), ("reason", "rate_cap")]) == 3)
        #expect(value("redline_events_dropped_total", [("kind", "tcp_event"), ("reason", "collector")]) == 5)
        #expect(value("redline_filtered_packets_total") == 9)
        #expect(value("redline_segments_sealed_total") == 4 && value("redline_write_errors_total") == 2)
        #expect(value("redline_segment_writes_suspended") == 1 && value("redline_poll_lag_seconds") == 1.5)
        #expect(s.allSatisfy { $0.name != "redline_existing_listeners" })
    }
}
