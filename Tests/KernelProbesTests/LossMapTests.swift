import CRedlineABI
import Glibc
import KernelProbes
import Testing
import TestSupport

/// `rl_loss`: every event the kernel loses is counted under what it was (record type, protocol,
/// side, cgroup) and the UTC-aligned second it was lost in, and the counts agree with the
/// per-kind totals of `rl_kstats`.
@Suite("Attributed loss (root, BPF)", .requiresRootBPF)
struct LossMapTests {
    static let call = UInt8(RL_REC_L7_CALL.rawValue), dns = UInt8(RL_L7_DNS.rawValue), client = UInt8(RL_SIDE_CLIENT.rawValue)

    static func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func entries(_ dp: DataPlane, reason: rl_stats_counter) throws -> [DataPlane.LossEntry] {
        try dp.lossEntries().filter { $0.key.reason == UInt8(reason.rawValue) }
    }

    @Test("rootBPF: rate-capped calls are counted as DNS client calls without a cgroup, in the current second")
    func rateCapped() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        try dp.set(RL_CFG_RATE_CALL, 1)
        let offset: UInt64 = 300_000_000
        try dp.set(RL_CFG_LOSS_SLOT_OFFSET_NS, offset)
        let path = try UDPPath(dp)
        let before = (Self.monotonicNow() + offset) / 1_000_000_000
        for port in 43000..<43006 {
            try path.send(query, lport: port)
            try path.receive(nxdomain, lport: port)
        }
        let after = (Self.monotonicNow() + offset) / 1_000_000_000
        let capped = try dp.stats().rateCapped[Int(Self.call)]
        let e = try Self.entries(dp, reason: RL_STAT_RATE_CAPPED)
        #expect(capped >= 4)
        #expect(e.map(\.count).reduce(0, +) == capped)
        for x in e {
            #expect(x.key.record_type == Self.call && x.key.l7_proto == Self.dns && x.key.side == Self.client && x.key.cgroup_id == 0)
            #expect((before...after).contains(UInt64(x.key.slot)))
        }
    }

    @Test("rootBPF: unpaired DNS requests and responses are charged to DNS, with their side")
    func unpaired() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcEgress, .tcIngress])
        let path = try UDPPath(dp)
        try path.receive(nxdomain, lport: 43101)  // an answer nobody asked for
        try path.send(query, lport: 43102)
        try path.send(query, lport: 43102)  // the first is now unpaired
        let req = try Self.entries(dp, reason: RL_STAT_UNPAIRED_REQUEST)
        let resp = try Self.entries(dp, reason: RL_STAT_UNPAIRED_RESPONSE)
        #expect(req.count == 1 && req.first?.count == 1 && req.first?.key.l7_proto == Self.dns && req.first?.key.side == Self.client)
        #expect(resp.count == 1 && resp.first?.count == 1 && resp.first?.key.l7_proto == Self.dns && resp.first?.key.side == Self.client)
        #expect(try dp.lossEntries().allSatisfy { $0.key.record_type == Self.call })
    }

    @Test("rootBPF: a 256 KiB ring set before load fills sooner; every drop is in the map under its kind")
    func smallRing() throws {
        let dp = try DataPlane(objectPath: Package.redlineObject, programs: [.tcEgress, .tcIngress], ringBufferBytes: 256 << 10)
        try dp.install(try RuleSet(yaml: try Package.read(Package.defaultRules)))
        #expect(dp.events.maxEntries == 256 << 10)
        let path = try UDPPath(dp)
        // Call samples with their DNS question (8-byte ring header + 96-byte call + 264-byte
        // prefix = 368 bytes): about 710 fit in 256 KiB, so 4500 calls overflow it by about
        // 3790 when nobody reads.
        for i in 0..<4500 {
            try path.send(query, lport: 30000 + i)
            try path.receive(nxdomain, lport: 30000 + i)
        }
        let stats = try dp.stats()
        let dropped = stats.ringbufDropped[Int(Self.call)]
        #expect(dropped > 2000 && stats.emitted[Int(Self.call)] + dropped == 4500)
        let e = try Self.entries(dp, reason: RL_STAT_RINGBUF_DROPPED)
        // Each kind's drops are in the map under that kind: the calls', and a flow delta's
        // when a datagram came more than the flush interval (1 s) after its flow's last delta
        // (on a loaded machine the loop can take that long; the ring is full then too).
        for type in Set(e.map(\.key.record_type)) {
            #expect(e.filter { $0.key.record_type == type }.map(\.count).reduce(0, +) == stats.ringbufDropped[Int(type)],
                    "record type \(type)")
        }
        #expect(e.filter { $0.key.record_type == Self.call }.map(\.count).reduce(0, +) == dropped)
        #expect(e.filter { $0.key.record_type == Self.call }.allSatisfy { $0.key.l7_proto == Self.dns })
        // A finished second's entry can be deleted once read.
        if let first = e.first { try dp.deleteLoss(first.key) }
        #expect(try dp.lossEntries().count == e.count - 1)
    }

    @Test("rootBPF: a ring size the kernel cannot use is refused before anything loads")
    func badRingSize() {
        #expect(throws: KernelProbeError.self) {
            _ = try DataPlane(objectPath: Package.redlineObject, programs: [.tcEgress], ringBufferBytes: 300_000)
        }
    }
}
