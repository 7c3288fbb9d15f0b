import CRedlineABI
import KernelProbes

/// Turns the kernel's loss counters into `rl_loss` records (schemas/records-v1.md, "loss"):
/// what was lost, whose it was, and when.
///
/// The kernel counts every lost event twice: in `rl_loss` under its owner (cgroup, protocol,
/// side) and its UTC-aligned second, when the map has room, and then in the host totals of
/// `rl_kstats`, which cannot fail. Each `flush` reports
/// - per map entry, the growth of its running count since the last flush, as one record
///   covering that second; entries of seconds that are over (two behind the current one: no
///   program is still counting into them) are final and returned for deletion;
/// - per kind, what the totals grew by beyond everything the map has reported: losses that
///   found the map full, with no owner (`cgroup_id` 0), over the interval since the last flush.
///   Running sums keep this exact: the caller reads the totals before the map, so a loss counted
///   in both is never reported twice, and one in the totals only is reported once;
/// - events the collector shed itself (`shed`), by owner, over the interval since the last flush.
///
/// Not thread-safe: owned by the collector's poll thread.
struct LossLedger {
    /// A kind the host totals count by: (reason, record type) for ring and cap losses,
    /// (reason, L7 protocol) for unpaired messages.
    struct Kind: Hashable {
        var reason: UInt8
        var recordType: UInt8
        var l7: UInt8
    }

    /// Everything but the time of a loss.
    struct Owner: Hashable {
        var cgroup: UInt64
        var reason: UInt8
        var recordType: UInt8
        var l7: UInt8
        var side: UInt8
    }

    struct Flush {
        var records: [rl_loss] = []
        /// `rl_loss` keys whose seconds are over and whose counts have been reported.
        var finished: [rl_loss_key] = []
    }

    private var baseline = KernelStats()
    /// Running count last reported per map entry (key bytes).
    private var seen: [[UInt8]: UInt64] = [:]
    /// Per kind: everything the map has reported, and what was reported without an owner.
    private var attributed: [Kind: UInt64] = [:]
    private var ownerless: [Kind: UInt64] = [:]
    private var shedSince: [Owner: UInt64] = [:]
    private var lastFlushMono: UInt64 = 0

    init() {}

    /// A ledger for counters that stood at `baseline` when the collector started.
    init(baseline: KernelStats, nowMono: UInt64) {
        self.baseline = baseline
        lastFlushMono = nowMono
    }

    static let second: UInt64 = RL_LOSS_SLOT_NS

    /// The host-total kind a map entry or record belongs to.
    static func kind(reason: UInt8, recordType: UInt8, l7: UInt8) -> Kind {
        let unpaired = UInt32(reason) == RL_STAT_UNPAIRED_REQUEST.rawValue || UInt32(reason) == RL_STAT_UNPAIRED_RESPONSE.rawValue
        return unpaired ? Kind(reason: reason, recordType: UInt8(RL_REC_L7_CALL.rawValue), l7: l7)
                        : Kind(reason: reason, recordType: recordType, l7: 0)
    }

    /// Counts an event the collector dropped (memory cap, failed write), with its owner when the
    /// sample decodes.
    mutating func shed(_ record: KernelRecord, sampleType: UInt16) {
        var o = Owner(cgroup: 0, reason: UInt8(RL_STAT_USER_DROPPED.rawValue), recordType: 0, l7: 0, side: 0)
        switch record {
        case .flowDelta(let f):
            o.recordType = UInt8(RL_REC_FLOW_DELTA.rawValue); o.cgroup = f.cgroup_id; o.l7 = f.l7_proto; o.side = f.side
        case .call(let c, _):
            o.recordType = UInt8(RL_REC_L7_CALL.rawValue); o.cgroup = c.cgroup_id; o.l7 = c.l7_proto; o.side = c.side
        case .tcpEvent(let e):
            o.recordType = UInt8(RL_REC_TCP_EVENT.rawValue); o.cgroup = e.cgroup_id
        case .unknown:
            o.recordType = UInt8(truncatingIfNeeded: sampleType)
        }
        shedSince[o, default: 0] &+= 1
    }

    /// The records for everything lost since the last flush. `totals` must have been read
    /// before `entries`; `slotOffsetNanos` is the RL_CFG_LOSS_SLOT_OFFSET_NS the kernel used.
    mutating func flush(totals: KernelStats, entries: [DataPlane.LossEntry], nowMono: UInt64,
                        slotOffsetNanos: UInt64) -> Flush {
        var out = Flush()
        let currentSlot = (nowMono &+ slotOffsetNanos) / Self.second
        for e in entries {
            let keyBytes = bytes(of: e.key)
            let before = seen[keyBytes] ?? 0
            let grown = e.count >= before ? e.count - before : e.count
            if grown > 0 {
                let end = (UInt64(e.key.slot) + 1) * Self.second &- slotOffsetNanos
                out.records.append(rl_loss(ts_ns: end, interval_ns: Self.second, cgroup_id: e.key.cgroup_id, value: grown,
                                           reason: e.key.reason, record_type: e.key.record_type,
                                           l7_proto: e.key.l7_proto, side: e.key.side, pad: 0))
                attributed[Self.kind(reason: e.key.reason, recordType: e.key.record_type, l7: e.key.l7_proto), default: 0] &+= grown
            }
            if UInt64(e.key.slot) + 2 <= currentSlot {
                out.finished.append(e.key)
                seen[keyBytes] = nil
            } else {
                seen[keyBytes] = e.count
            }
        }
        let interval = max(1, nowMono &- lastFlushMono)
        func ownerless(_ kind: Kind, total: UInt64, base: UInt64) {
            let counted = total &- base
            let reported = attributed[kind, default: 0] &+ self.ownerless[kind, default: 0]
            guard counted > reported else { return }
            let value = counted - reported
            self.ownerless[kind, default: 0] &+= value
            out.records.append(rl_loss(ts_ns: nowMono, interval_ns: interval, cgroup_id: 0, value: value, reason: kind.reason,
                                       record_type: kind.recordType, l7_proto: kind.l7, side: 0, pad: 0))
        }
        for t in 0..<min(totals.ringbufDropped.count, Int(RL_REC_TYPE_MAX.rawValue)) {
            ownerless(Kind(reason: UInt8(RL_STAT_RINGBUF_DROPPED.rawValue), recordType: UInt8(t), l7: 0),
                      total: totals.ringbufDropped[t], base: baseline.ringbufDropped[t])
            ownerless(Kind(reason: UInt8(RL_STAT_RATE_CAPPED.rawValue), recordType: UInt8(t), l7: 0),
                      total: totals.rateCapped[t], base: baseline.rateCapped[t])
        }
        let call = UInt8(RL_REC_L7_CALL.rawValue)
        for p in 0..<totals.unpairedRequest.count {
            ownerless(Kind(reason: UInt8(RL_STAT_UNPAIRED_REQUEST.rawValue), recordType: call, l7: UInt8(p)),
                      total: totals.unpairedRequest[p], base: baseline.unpairedRequest[p])
            ownerless(Kind(reason: UInt8(RL_STAT_UNPAIRED_RESPONSE.rawValue), recordType: call, l7: UInt8(p)),
                      total: totals.unpairedResponse[p], base: baseline.unpairedResponse[p])
        }
        for (o, n) in shedSince.sorted(by: { ($0.key.cgroup, $0.key.recordType, $0.key.l7) < ($1.key.cgroup, $1.key.recordType, $1.key.l7) }) {
            out.records.append(rl_loss(ts_ns: nowMono, interval_ns: interval, cgroup_id: o.cgroup, value: n, reason: o.reason,
                                       record_type: o.recordType, l7_proto: o.l7, side: o.side, pad: 0))
        }
        shedSince = [:]
        lastFlushMono = nowMono
        return out
    }
}
