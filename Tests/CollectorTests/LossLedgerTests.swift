import CRedlineABI
@testable import Collector
import KernelProbes
import Testing

/// The collector's bookkeeping between the kernel's loss counters and `rl_loss` records:
/// every lost event reported exactly once, with its owner and its second when the kernel knew
/// them, by kind only when it did not.
@Suite struct LossLedgerTests {
    static let call = UInt8(RL_REC_L7_CALL.rawValue), flow = UInt8(RL_REC_FLOW_DELTA.rawValue)
    static let ring = UInt8(RL_STAT_RINGBUF_DROPPED.rawValue), unpaired = UInt8(RL_STAT_UNPAIRED_REQUEST.rawValue)
    static let second: UInt64 = 1_000_000_000

    func key(cgroup: UInt64, slot: UInt32, reason: UInt8 = ring, type: UInt8 = call, l7: UInt8 = 1, side: UInt8 = 2) -> rl_loss_key {
        rl_loss_key(cgroup_id: cgroup, slot: slot, reason: reason, record_type: type, l7_proto: l7, side: side)
    }

    @Test("map entries become per-second records with their owner; finished seconds are released; nothing twice")
    func perSecond() {
        var ledger = LossLedger(baseline: KernelStats(), nowMono: 100 * Self.second)
        var totals = KernelStats()
        totals.ringbufDropped[Int(Self.call)] = 700
        // Seconds 100 and 101 (offset 0.25 s), web's cgroup 7: 500 then 200 (still counting).
        let offset: UInt64 = 250_000_000
        let a = key(cgroup: 7, slot: 100), b = key(cgroup: 7, slot: 101)
        var out = ledger.flush(totals: totals, entries: [.init(key: a, count: 500), .init(key: b, count: 200)],
                               nowMono: 101 * Self.second + 500_000_000, slotOffsetNanos: offset)
        #expect(out.records.count == 2)
        #expect(out.records.map { (r: rl_loss) in r.value }.reduce(0, +) == 700)
        let first = out.records.first { $0.value == 500 }!
        #expect(first.ts_ns == 101 * Self.second - offset && first.interval_ns == Self.second && first.cgroup_id == 7)
        #expect(first.l7_proto == 1 && first.side == 2 && first.reason == Self.ring && first.record_type == Self.call)
        #expect(out.finished.isEmpty)  // second 100 is not two behind 101.75 yet
        // Second 101 grows to 260 (totals 760); by 103 both are over and released.
        totals.ringbufDropped[Int(Self.call)] = 760
        out = ledger.flush(totals: totals, entries: [.init(key: a, count: 500), .init(key: b, count: 260)],
                           nowMono: 103 * Self.second, slotOffsetNanos: offset)
        #expect(out.records.map { (r: rl_loss) in r.value } == [60])
        #expect(Set(out.finished.map { (k: rl_loss_key) in k.slot }) == [100, 101])
        // Released entries are gone from the map; nothing more to report.
        out = ledger.flush(totals: totals, entries: [], nowMono: 104 * Self.second, slotOffsetNanos: offset)
        #expect(out.records.isEmpty)
    }

    @Test("losses that found the map full are reported once, by kind, without an owner")
    func mapFull() {
        var ledger = LossLedger(baseline: KernelStats(), nowMono: 10 * Self.second)
        var totals = KernelStats()
        totals.ringbufDropped[Int(Self.flow)] = 1000  // 900 in the map, 100 only in the totals
        totals.unpairedRequest[2] = 5                  // redis, none in the map
        let k = key(cgroup: 3, slot: 12, type: Self.flow, l7: 0, side: 0)  // the current second
        var out = ledger.flush(totals: totals, entries: [.init(key: k, count: 900)], nowMono: 12 * Self.second, slotOffsetNanos: 0)
        let ownerless = out.records.filter { $0.cgroup_id == 0 }
        #expect(ownerless.count == 2)
        let flows = ownerless.first { (r: rl_loss) in r.record_type == Self.flow }
        #expect(flows?.value == 100 && flows?.reason == Self.ring && flows?.interval_ns == 2 * Self.second)
        let redis = ownerless.first { (r: rl_loss) in r.record_type == Self.call }
        #expect(redis?.value == 5 && redis?.l7_proto == 2 && redis?.reason == Self.unpaired)
        // A count the map shows before the totals do (read order: totals, then map) is not reported twice.
        out = ledger.flush(totals: totals, entries: [.init(key: k, count: 950)], nowMono: 13 * Self.second, slotOffsetNanos: 0)
        #expect(out.records.map { (r: rl_loss) in r.value } == [50])
        totals.ringbufDropped[Int(Self.flow)] = 1050
        out = ledger.flush(totals: totals, entries: [], nowMono: 14 * Self.second, slotOffsetNanos: 0)
        #expect(out.records.isEmpty)
        totals.ringbufDropped[Int(Self.flow)] = 1060
        out = ledger.flush(totals: totals, entries: [], nowMono: 15 * Self.second, slotOffsetNanos: 0)
        #expect(out.records.map { (r: rl_loss) in r.value } == [10] && out.records.first?.cgroup_id == 0)
    }

    @Test("events the collector shed are counted by owner")
    func shed() {
        var ledger = LossLedger(baseline: KernelStats(), nowMono: 0)
        var c = rl_l7_call()
        c.cgroup_id = 9
        c.l7_proto = 2
        c.side = 1
        for _ in 0..<3 { ledger.shed(.call(c, prefix: nil), sampleType: UInt16(RL_REC_L7_CALL.rawValue)) }
        let out = ledger.flush(totals: KernelStats(), entries: [], nowMono: Self.second, slotOffsetNanos: 0)
        #expect(out.records.count == 1)
        let r = out.records[0]
        #expect(r.value == 3 && r.cgroup_id == 9 && r.l7_proto == 2 && r.side == 1)
        #expect(r.reason == UInt8(RL_STAT_USER_DROPPED.rawValue) && r.record_type == Self.call)
    }
}
