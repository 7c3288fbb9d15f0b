import CRedlineABI
import RedlineBase
import Segments

/// Deterministic synthetic segments: the golden test fixture and the demo's sample set.
/// Everything here derives from constants and a fixed-seed generator, so the same build writes
/// the same bytes every time (given the same liblz4, whose output the format does not pin).
/// These are placeholders until the lab captures real segments.
public enum SyntheticSegments {
    // MARK: golden fixture

    /// Values the golden fixture is built from; schemas/segment-v1.md documents them.
    public enum Golden {
        public static let host = "golden-host"
        public static let bootID = BootID(uuidString: "00112233-4455-6677-8899-aabbccddeeff")!
        /// 2026-01-02T03:04:00Z.
        public static let windowStartNs: Int64 = 1_767_323_040_000_000_000
        public static let windowEndNs: Int64 = 1_767_323_100_000_000_000
        public static let openedMonotonicNs: UInt64 = 5_000_000_000
        /// Small blocks, so eleven records make eight blocks of every type.
        public static var writerOptions: WriterOptions {
            var o = WriterOptions()
            o.blockRawBytes = 256
            o.durable = false
            return o
        }
        public static var header: SegmentHeader {
            SegmentHeader(hostID: host, bootID: bootID, windowStartNs: windowStartNs, windowEndNs: windowEndNs,
                          openedMonotonicNs: openedMonotonicNs, recordTypes: legacyRecordTypes)
        }
    }

    /// The record types the golden fixture and the demo samples are written with: every type
    /// but the loss record, so they carry their losses as stats counters and keep testing the
    /// reader's path for segments from before it. The committed files predate records v2 too
    /// (their calls are l7_call version 1, no call_detail); the generator writes today's
    /// layouts, which readers normalise them to (schemas/records-v2.md).
    public static var legacyRecordTypes: [RecordTypeVersion] {
        RecordTypeVersion.current.filter { $0.recordType != .loss }
    }

    /// Writes the golden fixture (sealed) at `path` (must end in `.rls` and not exist).
    public static func writeGolden(to path: String) throws(SegmentError) {
        let w = try SegmentWriter(finalPath: path, header: Golden.header, options: Golden.writerOptions)
        let t0: UInt64 = 5_000_000_000
        try w.append(clock(realtime: Golden.windowStartNs + 100, monotonic: t0, uncertainty: 150, reason: RL_ANCHOR_START))
        for i in 0..<3 {
            var f = flow(start: t0 + UInt64(i) * 1_000_000, end: t0 + UInt64(i) * 1_000_000 + 500_000,
                         local: (198, 18, 0, 10), remote: (198, 18, 1, 20), lport: UInt16(40000 + i), rport: 80)
            f.l7_proto = UInt8(RL_L7_HTTP1.rawValue)
            f.side = UInt8(RL_SIDE_CLIENT.rawValue)
            f.tx_bytes = 1000 + UInt64(i)
            f.rx_bytes = 5000 + UInt64(i)
            f.tx_packets = 3
            f.rx_packets = 5
            f.flags = i == 0 ? RL_FLOW_OPENED.rawValue : 0
            try w.append(f)
        }
        for i in 0..<2 {
            var c = call(start: t0 + 2_000_000 + UInt64(i) * 1_000_000, duration: 250_000 + UInt64(i) * 1000,
                         local: (198, 18, 0, 10), remote: (198, 18, 1, 20), lport: 40000, rport: 80)
            c.status_code = i == 0 ? 200 : 503
            c.status_class = UInt8(i == 0 ? RL_STATUS_OK.rawValue : RL_STATUS_SERVER_ERROR.rawValue)
            var d = rl_call_detail()
            setString(&d.host, "api.golden")
            setString(&d.route, i == 0 ? "/v1/items" : "/v1/orders")
            try w.append(call: c, detail: d)
        }
        var e = rl_tcp_event()
        e.ts_ns = t0 + 3_000_000
        setAddress(&e.laddr, (198, 18, 0, 10))
        setAddress(&e.raddr, (198, 18, 1, 20))
        e.lport = 40000
        e.rport = 80
        e.family = UInt8(RL_FAMILY_INET.rawValue)
        e.kind = UInt8(RL_TCP_RETRANSMIT.rawValue)
        e.tcp_state = 1
        e.l4_proto = 6
        e.count = 1
        try w.append(e)
        for (i, counter) in [RL_STAT_EVENTS_EMITTED, RL_STAT_RINGBUF_DROPPED].enumerated() {
            var s = rl_stats()
            s.ts_ns = t0 + 4_000_000
            s.interval_ns = 4_000_000
            s.counter = counter.rawValue
            s.subject = RL_REC_FLOW_DELTA.rawValue
            s.value = i == 0 ? 3 : 0
            try w.append(s)
        }
        var g = rl_cgroup_mapping()
        g.ts_ns = t0 + 500
        g.cgroup_id = 4242
        g.service_id = 7
        setString(&g.pod_uid, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        setString(&g.path, "/kubepods.slice/kubepods-pod0f1e2d3c.slice/cri-containerd-abc.scope")
        try w.append(g)
        try w.append(clock(realtime: Golden.windowStartNs + 5_000_100, monotonic: t0 + 5_000_000, uncertainty: 120, reason: RL_ANCHOR_SEAL))
        try w.seal()
    }

    // MARK: demo samples

    /// Writes the demo sample set under `root` (partitioned as the collector would): two hosts
    /// in two lab "datacenters", two sealed one-minute segments each, plus the third minute of the
    /// second host still open (`.rls.open`, ending cleanly after its last block). Returns the paths
    /// written, sorted.
    public static func writeSamples(root: String) throws(SegmentError) -> [String] {
        var paths: [String] = []
        let hosts: [(name: String, boot: String, local: (UInt8, UInt8, UInt8, UInt8), peer: (UInt8, UInt8, UInt8, UInt8))] = [
            ("web-1.dc1", "6b1f3a52-3c1e-4f0a-9d6e-1a2b3c4d5e6f", (198, 18, 1, 10), (198, 19, 2, 20)),
            ("redis-1.dc2", "9c2e4b63-4d2f-4a1b-8e7f-2b3c4d5e6f70", (198, 19, 2, 20), (198, 18, 1, 10)),
        ]
        var options = WriterOptions()
        options.durable = false
        options.blockRawBytes = 64 << 10
        let firstMinute: Int64 = 1_767_323_040_000_000_000
        for (hostIndex, host) in hosts.enumerated() {
            var rng = SplitMix64(seed: 0x5EED_0000 + UInt64(hostIndex))
            let minutes = hostIndex == 0 ? 2 : 3
            for minute in 0..<minutes {
                let start = firstMinute + Int64(minute) * 60_000_000_000
                let mono = 1_000_000_000_000 + UInt64(hostIndex) * 7_000_000_000 + UInt64(minute) * 60_000_000_000
                let header = SegmentHeader(hostID: host.name, bootID: BootID(uuidString: host.boot)!, windowStartNs: start,
                                           windowEndNs: start + 60_000_000_000, openedMonotonicNs: mono,
                                           recordTypes: legacyRecordTypes)
                let w = try SegmentWriter(root: root, header: header, sequence: 0, options: options)
                try writeMinute(w, rng: &rng, start: start, mono: mono, host: host, server: hostIndex == 1)
                if hostIndex == 1 && minute == minutes - 1 {
                    try w.flush()
                    paths.append(w.openPath)
                } else {
                    try w.seal()
                    paths.append(w.finalPath)
                }
            }
        }
        return paths.sorted()
    }

    private static func writeMinute(_ w: SegmentWriter, rng: inout SplitMix64, start: Int64, mono: UInt64,
                                    host: (name: String, boot: String, local: (UInt8, UInt8, UInt8, UInt8), peer: (UInt8, UInt8, UInt8, UInt8)),
                                    server: Bool) throws(SegmentError) {
        let second: UInt64 = 1_000_000_000
        try w.append(clock(realtime: start + 37_000, monotonic: mono, uncertainty: 90 + rng.below(40), reason: RL_ANCHOR_START))
        for c in 0..<3 {
            var g = rl_cgroup_mapping()
            g.ts_ns = mono + 1000 + UInt64(c)
            g.cgroup_id = 9000 + UInt64(c)
            g.service_id = server ? 20 + UInt32(c) : 10 + UInt32(c)
            let uid = "\(server ? "b" : "a")\(c)1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
            setString(&g.pod_uid, uid)
            setString(&g.container_id, String(repeating: "\(c)f", count: 32))
            setString(&g.path, "/kubepods.slice/kubepods-pod\(uid.prefix(8)).slice/cri-containerd-\(c).scope")
            try w.append(g)
        }
        let routes = ["/v1/items", "/v1/orders", "/v1/users/profile", "/healthz"]
        // The Redis connections from client ports 41012...41015 were established before the collector
        // started: they never carried the identity option, so their records name no peer service
        // (the pipeline names the peer from metadata, `peer_identity_source = metadata`).
        func peer(clientPort: UInt16) -> UInt32 { clientPort >= 41012 ? 0 : server ? 10 : 20 }
        for tick in 0..<30 {
            let t = mono + UInt64(tick) * 2 * second
            for conn in 0..<16 {
                var f = flow(start: t + rng.below(1_000_000), end: t + 1_500_000_000 + rng.below(400_000_000),
                             local: host.local, remote: host.peer,
                             lport: server ? 6379 : UInt16(41000 + conn), rport: server ? UInt16(41000 + conn) : 6379)
                f.cgroup_id = 9000 + UInt64(conn % 3)
                f.l7_proto = UInt8(RL_L7_REDIS.rawValue)
                f.side = UInt8(server ? RL_SIDE_SERVER.rawValue : RL_SIDE_CLIENT.rawValue)
                f.local_service = server ? 20 : 10
                f.peer_service = peer(clientPort: UInt16(41000 + conn))
                f.tx_packets = 20 + rng.below(30)
                f.rx_packets = 20 + rng.below(30)
                f.tx_bytes = f.tx_packets * (60 + rng.below(200))
                f.rx_bytes = f.rx_packets * (60 + rng.below(200))
                f.flags = tick == 0 ? RL_FLOW_OPENED.rawValue : 0
                try w.append(f)
            }
            for _ in 0..<20 {
                let isHTTP = !server
                let callStart = t + rng.below(2 * second)
                let slow = rng.below(100) < 3
                var c = call(start: callStart, duration: (slow ? 80_000_000 : 200_000) + rng.below(900_000),
                             local: host.local, remote: host.peer,
                             lport: server ? 6379 : UInt16(41000 + rng.below(16)), rport: server ? UInt16(41000 + rng.below(16)) : 6379)
                c.cgroup_id = 9000 + rng.below(3)
                c.side = UInt8(server ? RL_SIDE_SERVER.rawValue : RL_SIDE_CLIENT.rawValue)
                c.local_service = server ? 20 : 10
                c.peer_service = peer(clientPort: server ? c.rport : c.lport)
                c.req_bytes = UInt32(40 + rng.below(400))
                c.resp_bytes = UInt32(20 + rng.below(4000))
                let failed = rng.below(100) < 2
                var detail: rl_call_detail?
                if isHTTP {
                    // The web host also calls an HTTP API (198.18.1.30, service 30) besides Redis.
                    setAddress(&c.raddr, (198, 18, 1, 30))
                    c.peer_service = 30
                    c.rport = 80
                    c.l7_proto = UInt8(RL_L7_HTTP1.rawValue)
                    c.status_code = failed ? 503 : 200
                    c.status_class = UInt8(failed ? RL_STATUS_SERVER_ERROR.rawValue : RL_STATUS_OK.rawValue)
                    c.req_rule = 1
                    c.resp_rule = 2
                    c.flags = UInt8(RL_CALL_PREFIX_CAPTURED.rawValue | RL_CALL_TRACE_W3C.rawValue)
                    var d = rl_call_detail()
                    withUnsafeMutableBytes(of: &d.trace_id) { b in for i in 0..<16 { b[i] = UInt8(truncatingIfNeeded: rng.next()) } }
                    withUnsafeMutableBytes(of: &d.span_id) { b in for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: rng.next()) } }
                    setString(&d.host, "api.dc1.lab")
                    setString(&d.route, routes[Int(rng.below(UInt64(routes.count)))])
                    detail = d
                } else {
                    c.l7_proto = UInt8(RL_L7_REDIS.rawValue)
                    c.status_class = UInt8(failed ? RL_STATUS_SERVER_ERROR.rawValue : RL_STATUS_OK.rawValue)
                    c.req_rule = 10
                    c.resp_rule = failed ? 12 : 11
                }
                try w.append(call: c, detail: detail)
            }
            if rng.below(4) == 0 {
                var e = rl_tcp_event()
                e.ts_ns = t + rng.below(2 * second)
                e.cgroup_id = 9000 + rng.below(3)
                setAddress(&e.laddr, host.local)
                setAddress(&e.raddr, host.peer)
                e.lport = server ? 6379 : UInt16(41000 + rng.below(16))
                e.rport = server ? UInt16(41000 + rng.below(16)) : 6379
                e.family = UInt8(RL_FAMILY_INET.rawValue)
                let kind = rng.below(10)
                e.kind = UInt8(kind < 7 ? RL_TCP_RETRANSMIT.rawValue : kind < 9 ? RL_TCP_RESET_SENT.rawValue : RL_TCP_DROP.rawValue)
                e.drop_reason = e.kind == UInt8(RL_TCP_DROP.rawValue) ? 2 : 0
                e.tcp_state = 1
                e.l4_proto = 6
                e.local_service = server ? 20 : 10
                e.peer_service = peer(clientPort: server ? e.rport : e.lport)
                e.count = 1
                try w.append(e)
            }
            if tick % 5 == 4 {
                for (type, emitted) in [(RL_REC_FLOW_DELTA, 160), (RL_REC_L7_CALL, 200)] {
                    var s = rl_stats()
                    s.ts_ns = t
                    s.interval_ns = 10 * second
                    s.counter = RL_STAT_EVENTS_EMITTED.rawValue
                    s.subject = type.rawValue
                    s.value = UInt64(emitted)
                    try w.append(s)
                    s.counter = RL_STAT_RINGBUF_DROPPED.rawValue
                    s.value = rng.below(3)
                    try w.append(s)
                }
                try w.append(clock(realtime: start + Int64(t - mono) + 41_000, monotonic: t,
                                   uncertainty: 90 + rng.below(40), reason: RL_ANCHOR_PERIODIC))
            }
        }
    }

    // MARK: record helpers

    private static func clock(realtime: Int64, monotonic: UInt64, uncertainty: UInt64, reason: rl_anchor_reason) -> rl_clock_anchor {
        var a = rl_clock_anchor()
        a.realtime_ns = realtime
        a.monotonic_ns = monotonic
        a.boottime_ns = monotonic
        a.uncertainty_ns = uncertainty
        a.samples = 5
        a.reason = reason.rawValue
        return a
    }

    private static func flow(start: UInt64, end: UInt64, local: (UInt8, UInt8, UInt8, UInt8), remote: (UInt8, UInt8, UInt8, UInt8),
                             lport: UInt16, rport: UInt16) -> rl_flow_delta {
        var f = rl_flow_delta()
        f.start_ns = start
        f.end_ns = end
        setAddress(&f.laddr, local)
        setAddress(&f.raddr, remote)
        f.lport = lport
        f.rport = rport
        f.family = UInt8(RL_FAMILY_INET.rawValue)
        f.l4_proto = 6
        return f
    }

    private static func call(start: UInt64, duration: UInt64, local: (UInt8, UInt8, UInt8, UInt8), remote: (UInt8, UInt8, UInt8, UInt8),
                             lport: UInt16, rport: UInt16) -> rl_l7_call {
        var c = rl_l7_call()
        c.start_ns = start
        c.duration_ns = duration
        setAddress(&c.laddr, local)
        setAddress(&c.raddr, remote)
        c.lport = lport
        c.rport = rport
        c.family = UInt8(RL_FAMILY_INET.rawValue)
        c.l4_proto = 6
        c.l7_proto = UInt8(RL_L7_HTTP1.rawValue)
        c.side = UInt8(RL_SIDE_CLIENT.rawValue)
        c.req_rule = 1
        c.resp_rule = 2
        c.req_bytes = 120
        c.resp_bytes = 800
        return c
    }

    /// Writes an IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d) into a 16-byte address field.
    public static func setAddress<A>(_ field: inout A, _ v4: (UInt8, UInt8, UInt8, UInt8)) {
        withUnsafeMutableBytes(of: &field) { b in
            precondition(b.count == 16)
            for i in 0..<10 { b[i] = 0 }
            b[10] = 0xFF
            b[11] = 0xFF
            b[12] = v4.0
            b[13] = v4.1
            b[14] = v4.2
            b[15] = v4.3
        }
    }

    /// Writes `s` NUL-padded into a fixed char field, truncating (at a byte) if longer.
    public static func setString<A>(_ field: inout A, _ s: String) {
        withUnsafeMutableBytes(of: &field) { b in
            for i in 0..<b.count { b[i] = 0 }
            for (i, byte) in s.utf8.prefix(b.count - 1).enumerated() { b[i] = byte }
        }
    }
}
