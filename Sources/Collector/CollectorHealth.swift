import KernelProbes
import Segments

/// The collector's own health as the metrics textfile (`metrics_file`) reports it: a snapshot
/// the runtime takes at each metrics interval, rendered to Prometheus samples here. Counters
/// are running totals since the collector started unless a field says otherwise.
struct CollectorHealth {
    /// The kernel's counters summed over CPUs.
    var kernel: KernelStats
    /// Events read from the ring and shed by the collector, indexed by record type.
    var read: [UInt64]
    var userDropped: [UInt64]
    /// Outcome of the last existing-listener walk (nil before the first, or without sockops).
    var listenerWalk: (bothWays: Int, callersOnly: Int, failed: Int)?
    var sealedSegments: Int
    var sealedBytes: UInt64
    var deletedSegments: UInt64
    var writeErrors: UInt64
    var writesSuspended: Bool
    /// Largest flow-delta read lag since the previous snapshot.
    var maxPollLagNanos: UInt64
    var cpuSeconds: Double
    var residentBytes: UInt64
    /// Payloads each installed rule id matched in the kernel.
    var ruleHits: [Int: UInt64]
    var rules: RuleSet?

    /// Record kinds with per-kind event counters: the kinds the kernel emits into the ring
    /// and the collector writes beside them (loss records summarise the losses these count;
    /// call details are part of their calls, which are counted).
    static let countedKinds: [RecordType] = RecordType.allCases.filter { $0 != .loss && $0 != .callDetail }

    var samples: [MetricsTextfile.Sample] {
        var samples: [MetricsTextfile.Sample] = []
        let k = kernel
        let dropped = "Events lost before the collector: ring buffer full, rate cap, or shed by the collector."
        for type in Self.countedKinds {
            let t = Int(type.rawValue)
            let kind = [("kind", type.description)]
            samples.append(.init("redline_events_read_total", .counter, help: "Events the collector read from the ring buffer.",
                                 labels: kind, value: Double(read[t])))
            if t < k.emitted.count {
                samples.append(.init("redline_kernel_events_emitted_total", .counter, help: "Events the kernel put in the ring buffer.",
                                     labels: kind, value: Double(k.emitted[t])))
                samples.append(.init("redline_events_dropped_total", .counter, help: dropped,
                                     labels: kind + [("reason", "ringbuf_full")], value: Double(k.ringbufDropped[t])))
                samples.append(.init("redline_events_dropped_total", .counter, help: dropped,
                                     labels: kind + [("reason", "rate_cap")], value: Double(k.rateCapped[t])))
            }
            samples.append(.init("redline_events_dropped_total", .counter, help: dropped,
                                 labels: kind + [("reason", "collector")], value: Double(userDropped[t])))
        }
        samples.append(.init("redline_unpaired_messages_total", .counter, help: "L7 requests or responses that formed no call.",
                             labels: [("role", "request")], value: Double(k.unpairedRequest.reduce(0, &+))))
        samples.append(.init("redline_unpaired_messages_total", .counter, help: "L7 requests or responses that formed no call.",
                             labels: [("role", "response")], value: Double(k.unpairedResponse.reduce(0, &+))))
        samples.append(.init("redline_filtered_packets_total", .counter, help: "Packets the filters excluded from reporting.",
                             value: Double(k.filtered)))
        samples.append(.init("redline_retransmits_skipped_total", .counter,
                             help: "TCP payload segments seen again (retransmitted): not classified, walked or counted twice.",
                             value: Double(k.retransmitsSkipped)))
        samples.append(.init("redline_stream_lost_total", .counter,
                             help: "HTTP/1.x or RESP message walks that lost sync; their messages went uncounted until the next one a segment starts with.",
                             value: Double(k.streamLost)))
        samples.append(.init("redline_identity_option_missing_total", .counter,
                             help: "Connections whose peer's identity TCP option was expected and missing.", value: Double(k.idOptionMissing)))
        if let w = listenerWalk {
            for (state, n) in [("both_ways", w.bothWays), ("callers_only", w.callersOnly), ("failed", w.failed)] {
                samples.append(.init("redline_existing_listeners", .gauge, help: """
                    Listeners older than the collector, by what the last walk enabled: the identity option both ways, \
                    only reading callers' options (kernel before 6.12), or nothing.
                    """, labels: [("state", state)], value: Double(n)))
            }
        }
        samples.append(.init("redline_segments_sealed_total", .counter, help: "Segments sealed.", value: Double(sealedSegments)))
        samples.append(.init("redline_segment_bytes_written_total", .counter, help: "Bytes of sealed segments written.",
                             value: Double(sealedBytes)))
        samples.append(.init("redline_segments_deleted_total", .counter, help: "Sealed segments deleted by the disk budget.",
                             value: Double(deletedSegments)))
        samples.append(.init("redline_write_errors_total", .counter,
                             help: "Failed segment writes (the events shed meanwhile are counted as dropped, reason collector).",
                             value: Double(writeErrors)))
        samples.append(.init("redline_segment_writes_suspended", .gauge,
                             help: "1 while segment writes are suspended after a write error (retried every second).",
                             value: writesSuspended ? 1 : 0))
        samples.append(.init("redline_poll_lag_seconds", .gauge,
                             help: "Largest delay seen between a flow delta's last packet and the collector reading it.",
                             value: Double(maxPollLagNanos) / 1e9))
        samples.append(.init("redline_cpu_seconds_total", .counter, help: "CPU time the collector has used (user + system).",
                             value: cpuSeconds))
        samples.append(.init("redline_resident_memory_bytes", .gauge, help: "The collector's resident memory.",
                             value: Double(residentBytes)))
        samples += MetricsTextfile.ruleHitSamples(hits: ruleHits, rules: rules)
        return samples
    }
}
