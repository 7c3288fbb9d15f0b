import CRedlineABI
import Enrichment

/// What a row's events are, for charging losses: rows inherit the loss rate of the class their
/// events belong to (schemas/tables/README.md, "Completeness"). Name ids are `NamePool` ids;
/// `proto` and `observer` are `LossClass.notApplicable` for flow deltas and TCP events.
struct LossClass: Hashable, Comparable {
    /// `enum rl_record_type` of the events: flow delta, call or TCP event.
    var recordType: UInt8
    /// Protocol name id of a call.
    var proto: Int32
    /// `server` or `client` name id of a call: which end the local socket is.
    var observer: Int32
    /// The local service (the socket's owner); `NamePool.unknown` if unresolved.
    var service: Int32

    static let notApplicable: Int32 = -1

    static func < (a: Self, b: Self) -> Bool {
        (a.recordType, a.proto, a.observer, a.service) < (b.recordType, b.proto, b.observer, b.service)
    }
}

/// A loss as its record could describe it: `nil` where the record could not say (a loss
/// without an owner, a segment that predates the loss record, a damaged file). Matches every
/// class that agrees on the fields it has.
struct LossPattern: Hashable {
    var bucket: Int
    /// nil: any record type.
    var recordType: UInt8?
    var proto: Int32?
    var observer: Int32?
    var service: Int32?

    func matches(_ c: LossClass) -> Bool {
        (recordType == nil || recordType == c.recordType) && (proto == nil || proto == c.proto)
            && (observer == nil || observer == c.observer) && (service == nil || service == c.service)
    }

    /// The class a pattern stands for when no observed class matches it: unknown fields
    /// become `unknown`, fields that do not apply to the record type stay not applicable.
    var standIn: LossClass {
        let type = recordType ?? 0
        let call = type == UInt8(RL_REC_L7_CALL.rawValue)
        return LossClass(recordType: type,
                         proto: call ? (proto ?? NamePool.unknown) : (proto ?? LossClass.notApplicable),
                         observer: call ? (observer ?? NamePool.unknown) : (observer ?? LossClass.notApplicable),
                         service: service ?? NamePool.unknown)
    }
}

/// Per bucket, each class's observed and lost events, and how much of the loss was a share of
/// losses whose owner was unknown.
struct ClassLedger {
    /// Keyed by (class, bucket).
    struct Key: Hashable { var cls: LossClass; var bucket: Int }
    var observed: [Key: UInt64] = [:]
    var lost: [Key: UInt64] = [:]
    var shared: [Key: UInt64] = [:]

    /// Charges each pattern's loss to the classes it matches, in proportion to their observed
    /// events in its bucket (rounded half up per class); a pattern that matches no observed
    /// class is charged whole to its stand-in class. The part charged through a field the
    /// pattern left open is also counted in `shared`.
    mutating func charge(_ losses: [LossPattern: UInt64]) {
        var byBucket: [Int: [(LossClass, UInt64)]] = [:]
        for (k, o) in observed where o > 0 { byBucket[k.bucket, default: []].append((k.cls, o)) }
        for (p, value) in losses where value > 0 {
            let candidates = (byBucket[p.bucket] ?? []).filter { p.matches($0.0) }
            let open = p.service == nil || p.recordType == nil
                || (p.recordType == UInt8(RL_REC_L7_CALL.rawValue) && (p.proto == nil || p.observer == nil))
            let total = candidates.reduce(UInt64(0)) { $0 &+ $1.1 }
            guard total > 0 else {
                let k = Key(cls: p.standIn, bucket: p.bucket)
                lost[k, default: 0] &+= value
                if open { shared[k, default: 0] &+= value }
                continue
            }
            for (c, o) in candidates {
                let part = Self.share(value, o, of: total)
                guard part > 0 else { continue }
                let k = Key(cls: c, bucket: p.bucket)
                lost[k, default: 0] &+= part
                if candidates.count > 1 || open { shared[k, default: 0] &+= part }
            }
        }
    }

    /// `value × weight / total`, rounded half up, without overflow.
    static func share(_ value: UInt64, _ weight: UInt64, of total: UInt64) -> UInt64 {
        guard total > 0 else { return 0 }
        let p = value.multipliedFullWidth(by: weight)
        let (q, r) = total.dividingFullWidth(p)
        return r >= total - r ? q + 1 : q
    }

    /// The completeness of a row holding `weight` events of class `c` in `bucket`: its events,
    /// and the class's loss in proportion (`weight × lost / observed`, rounded half up), so the
    /// row shows its class's loss rate.
    func completeness(weight: UInt64, _ c: LossClass, bucket: Int) -> Completeness {
        let k = Key(cls: c, bucket: bucket)
        guard let l = lost[k], l > 0 else { return Completeness(observed: weight) }
        let o = observed[k] ?? 0
        guard o > 0 else { return Completeness(observed: weight, lost: l, shared: shared[k] ?? 0) }
        return Completeness(observed: weight, lost: Self.share(l, weight, of: o),
                            shared: Self.share(shared[k] ?? 0, weight, of: o))
    }

    /// Classes that lost events in a bucket where none of theirs was observed: their rows do
    /// not exist yet.
    var unobserved: [Key] {
        lost.keys.filter { (observed[$0] ?? 0) == 0 }.sorted { ($0.bucket, $0.cls) < ($1.bucket, $1.cls) }
    }
}
