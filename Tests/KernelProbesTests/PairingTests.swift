import Aggregates
import CRedlineABI
import KernelProbes
import Testing
import TestSupport

private func hex(_ s: String) -> [UInt8] {
    let c = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: c.count, by: 2).map { UInt8(String(c[$0...$0 + 1]), radix: 16)! }
}

/// A dig query and a NXDOMAIN answer to it.
let query = hex("a1b2 0120 0001 0000 0000 0001 07 6578616d706c65 03 636f6d 00 0001 0001 0000291000000000000000")
let nxdomain = hex("a1b2 8183 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001")

/// Runs UDP frames through the real tc programs (no socket needed for UDP).
struct UDPPath {
    let dp: DataPlane
    let egress: Program
    let ingress: Program

    init(_ dp: DataPlane) throws {
        self.dp = dp
        egress = try dp.program(.tcEgress)
        ingress = try dp.program(.tcIngress)
    }

    /// Local 198.18.0.1:lport sends to 198.18.0.2:53.
    func send(_ payload: [UInt8], lport: Int = 40000) throws {
        #expect(try egress.testRun(packet: Frame.udp4(payload, sport: lport, dport: 53)).retval == UInt32(bitPattern: -1))  // TC_ACT_UNSPEC: later filters still run
    }

    /// 198.18.0.2:53 answers local 198.18.0.1:lport.
    func receive(_ payload: [UInt8], lport: Int = 40000) throws {
        let f = Frame.udp4(payload, sport: 53, dport: lport, src: Frame.v4b, dst: Frame.v4a)
        #expect(try ingress.testRun(packet: f).retval == UInt32(bitPattern: -1))
    }
}

@Suite("Calls, flows, ring buffer and rate caps (root, BPF)", .requiresRootBPF)
struct PairingTests {
    @Test("rootBPF: a DNS query and its answer through tc egress/ingress make one call record, carrying the query's bytes (the rule's capture) for its question")
    func rootBPFDNSCallPaired() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        let path = try UDPPath(dp)
        try path.send(query)
        try path.receive(nxdomain)
        try ring.drain()
        #expect(sink.calls.count == 1)
        guard let (c, prefix) = sink.calls.first else { return }
        // The shipped dns-query rule captures 256 bytes: the whole (shorter) query.
        #expect(prefix == query)
        if let prefix, case .success(let q) = RequestNames.dnsQuestion(prefix) {
            #expect(q.name == "example.com" && q.type == 1)
        } else {
            Issue.record("the captured query's question does not parse: \(String(describing: prefix))")
        }
        #expect(c.l7_proto == UInt8(RL_L7_DNS.rawValue))
        #expect(c.l4_proto == 17)
        #expect(c.side == UInt8(RL_SIDE_CLIENT.rawValue))
        #expect(c.status_code == 3)
        #expect(c.status_class == UInt8(RL_STATUS_CLIENT_ERROR.rawValue))
        #expect(c.req_rule == 70 && c.resp_rule == 72)
        #expect(c.req_bytes == UInt32(query.count) && c.resp_bytes == UInt32(nxdomain.count))
        #expect(c.lport == 40000 && c.rport == 53)
        #expect(tupleBytes(c.laddr) == ipv4Mapped(Frame.v4a))
        #expect(tupleBytes(c.raddr) == ipv4Mapped(Frame.v4b))
        #expect(c.family == UInt8(RL_FAMILY_INET.rawValue))
        #expect(c.start_ns > 0)
        let stats = try dp.stats()
        #expect(stats.emitted[Int(RL_REC_L7_CALL.rawValue)] == 1)
        #expect(stats.unpairedRequest[Int(RL_L7_DNS.rawValue)] == 0)
    }

    @Test("rootBPF: unpaired requests and responses are counted, never turned into calls")
    func rootBPFUnpairedCounted() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        let path = try UDPPath(dp)
        try path.receive(nxdomain, lport: 40001)  // nothing pending
        try path.send(query, lport: 40002)
        try path.send(query, lport: 40002)  // the first is now unpaired
        try path.receive(nxdomain, lport: 40002)  // pairs with the second
        try ring.drain()
        let stats = try dp.stats()
        #expect(stats.unpairedResponse[Int(RL_L7_DNS.rawValue)] == 1)
        #expect(stats.unpairedRequest[Int(RL_L7_DNS.rawValue)] == 1)
        #expect(sink.calls.count == 1)
        #expect(sink.calls.first?.0.lport == 40002)
    }

    @Test("rootBPF: UDP flow deltas count every byte and packet each way")
    func rootBPFUDPFlowDeltas() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        try dp.set(RL_CFG_FLUSH_INTERVAL_NS, 1)
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        let path = try UDPPath(dp)
        let payload = [UInt8](repeating: 7, count: 100)
        let l3 = UInt64(20 + 8 + payload.count)
        // A delta is due on the first packet after the (coarse) clock moves past the
        // interval: keep sending until one appears, bounded.
        var sent: UInt64 = 0
        var received: UInt64 = 0
        while sink.flows.isEmpty && sent < 200_000 {
            try path.send(payload, lport: 41000)
            sent += 1
            if sent % 2 == 0 {
                try path.receive(payload, lport: 41000)
                received += 1
            }
            try ring.drain()
        }
        try #require(sink.flows.count >= 1)
        let total = sink.flows.reduce(into: (tx: UInt64(0), rx: UInt64(0), txp: UInt64(0), rxp: UInt64(0))) {
            $0.tx += $1.tx_bytes; $0.rx += $1.rx_bytes; $0.txp += $1.tx_packets; $0.rxp += $1.rx_packets
        }
        // What the deltas carry plus what is still unflushed in the per-CPU LRU entry
        // (test runs may land on any CPU) is exactly what was sent and received.
        var key = rl_udp_key()
        withUnsafeMutableBytes(of: &key.laddr) { $0.copyBytes(from: ipv4Mapped(Frame.v4a)) }
        withUnsafeMutableBytes(of: &key.raddr) { $0.copyBytes(from: ipv4Mapped(Frame.v4b)) }
        key.lport = 41000
        key.rport = 53
        key.family = UInt8(RL_FAMILY_INET.rawValue)
        let residue = try #require(try dp.udpFlows.lookup(key: bytes(of: key)))
        var rest = (tx: UInt64(0), rx: UInt64(0), txp: UInt64(0), rxp: UInt64(0))
        for cpu in 0..<Map.possibleCPUs {
            let f = try #require(load(rl_udp_flow.self, from: residue, offset: cpu * MemoryLayout<rl_udp_flow>.stride))
            rest.tx += f.tx_bytes
            rest.rx += f.rx_bytes
            rest.txp += UInt64(f.tx_packets)
            rest.rxp += UInt64(f.rx_packets)
        }
        #expect(total.txp + rest.txp == sent)
        #expect(total.rxp + rest.rxp == received)
        #expect(total.tx + rest.tx == sent * l3)
        #expect(total.rx + rest.rx == received * l3)
        let d = sink.flows[0]
        #expect(d.l4_proto == 17 && d.lport == 41000 && d.rport == 53)
        #expect(d.flags & UInt32(RL_FLOW_OPENED.rawValue) != 0)
        #expect(d.end_ns >= d.start_ns)
    }

    @Test("rootBPF: an idle UDP flow's residue is swept into one closing delta and its entry removed")
    func rootBPFUDPSweep() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        let path = try UDPPath(dp)
        let payload = [UInt8](repeating: 1, count: 50)
        for _ in 0..<3 { try path.send(payload, lport: 44000) }
        try path.receive(payload, lport: 44000)
        // Not idle yet at the time of the last packet: nothing swept.
        #expect(try dp.sweepIdleUDPFlows(idleNanoseconds: 1 << 40).isEmpty)
        let swept = try dp.sweepIdleUDPFlows(idleNanoseconds: 0, now: UInt64.max)
        #expect(swept.count == 1)
        guard let d = swept.first else { return }
        #expect(d.lport == 44000 && d.rport == 53 && d.l4_proto == 17)
        #expect(d.tx_packets == 3 && d.rx_packets == 1)
        #expect(d.tx_bytes == 3 * 78 && d.rx_bytes == 78)
        #expect(d.flags & UInt32(RL_FLOW_CLOSED.rawValue) != 0)
        #expect(try dp.udpFlows.keys().isEmpty)
    }

    @Test("rootBPF: the per-CPU token bucket caps call records and counts what it drops")
    func rootBPFRateCap() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        try dp.set(RL_CFG_RATE_CALL, 1)  // one call per second per CPU, burst 1
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        let path = try UDPPath(dp)
        for port in 42000..<42005 {
            try path.send(query, lport: port)
            try path.receive(nxdomain, lport: port)
        }
        try ring.drain()
        let stats = try dp.stats()
        let emitted = stats.emitted[Int(RL_REC_L7_CALL.rawValue)]
        let capped = stats.rateCapped[Int(RL_REC_L7_CALL.rawValue)]
        #expect(emitted + capped == 5)
        #expect(emitted >= 1 && emitted <= 2)  // a second token only if a second passed
        #expect(UInt64(sink.calls.count) == emitted)
    }

    @Test("rootBPF: a full ring loses records, never blocks, and counts each loss")
    func rootBPFRingFullCounted() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        let path = try UDPPath(dp)
        // 4 MiB ring, 104-byte call samples (+ the ring's 8-byte record header): 50000 calls
        // cannot all fit when nobody reads (about 37 450 do).
        let calls = 50000
        for i in 0..<calls {
            let port = 20000 + i % 40000
            try path.send(query, lport: port)
            try path.receive(nxdomain, lport: port)
        }
        let stats = try dp.stats()
        let emitted = stats.emitted[Int(RL_REC_L7_CALL.rawValue)]
        let dropped = stats.ringbufDropped[Int(RL_REC_L7_CALL.rawValue)]
        #expect(dropped > 0)
        #expect(emitted + dropped == UInt64(calls))
        // What did fit is intact and readable.
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        try ring.drain()
        #expect(UInt64(sink.calls.count) == emitted)
        #expect(ring.malformed == 0)
    }

    @Test("rootBPF: an L7-protocol filter suppresses calls of that protocol, counted as filtered")
    func rootBPFL7Filter() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        try dp.set(RL_CFG_L7_DENY_MASK, 1 << UInt64(RL_L7_DNS.rawValue))
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        let path = try UDPPath(dp)
        try path.send(query, lport: 43000)
        try path.receive(nxdomain, lport: 43000)
        try ring.drain()
        #expect(sink.calls.isEmpty)
        #expect(try dp.stats().filtered == 1)
    }

    @Test("ring samples of unknown types or short records decode as unknown, never trap")
    func ringSampleDecodingIsTotal() {
        if case .unknown(let t, let n) = KernelRecord(RingSample(type: 77, record: [1, 2, 3])) {
            #expect(t == 77 && n == 3)
        } else {
            Issue.record("type 77 decoded as a known record")
        }
        if case .unknown = KernelRecord(RingSample(type: UInt16(RL_REC_L7_CALL.rawValue), record: [0])) {
        } else {
            Issue.record("a 1-byte call decoded")
        }
        let withPrefix = [UInt8](repeating: 0, count: MemoryLayout<rl_l7_call>.size) + [5, 0, 0, 0, 0, 0, 0, 0] + [9, 9, 9, 9, 9]
        if case .call(_, let p) = KernelRecord(RingSample(type: UInt16(RL_KSAMPLE_CALL_WITH_PREFIX.rawValue), record: withPrefix)) {
            #expect(p == [9, 9, 9, 9, 9])
        } else {
            Issue.record("call with prefix not decoded")
        }
        let lying = [UInt8](repeating: 0, count: MemoryLayout<rl_l7_call>.size) + [255, 0, 0, 0, 0, 0, 0, 0, 1]
        if case .call(_, let p) = KernelRecord(RingSample(type: UInt16(RL_KSAMPLE_CALL_WITH_PREFIX.rawValue), record: lying)) {
            #expect(p == [1])  // the length is clamped to the bytes present
        }
    }
}
