import CRedlineABI

/// Why the collector took an anchor (`enum rl_anchor_reason`).
public enum AnchorReason: UInt32, Sendable, Hashable, CaseIterable {
    case start = 1
    case periodic = 2
    case step = 3
    case seal = 4

    var name: String {
        switch self {
        case .start: "start"
        case .periodic: "periodic"
        case .step: "step"
        case .seal: "seal"
        }
    }
}

/// One clock anchor: the host's REALTIME, MONOTONIC and BOOTTIME read at (nearly) one
/// instant, as `struct rl_clock_anchor` carries it. A value type over the ABI record;
/// ``init(_:)`` and ``record`` convert losslessly. Nothing is checked on construction:
/// ``validate(options:)`` says whether the values can be trusted.
public struct ClockAnchor: Sendable, Hashable {
    /// CLOCK_REALTIME, ns since the Unix epoch (UTC): the midpoint of the tightest sandwich.
    public var realtimeNanos: Int64
    /// CLOCK_MONOTONIC ns (the clock `bpf_ktime_get_ns` reads).
    public var monotonicNanos: UInt64
    /// CLOCK_BOOTTIME ns: monotonic plus the time the host spent suspended.
    public var boottimeNanos: UInt64
    /// Half the width of the tightest sandwich, ns: the true REALTIME at the monotonic
    /// read lies within `realtimeNanos ± uncertaintyNanos`.
    public var uncertaintyNanos: UInt64
    /// Sandwiches taken (K).
    public var samples: UInt32
    /// Raw `enum rl_anchor_reason` value; ``reason`` decodes it.
    public var reasonCode: UInt32

    public init(
        realtimeNanos: Int64, monotonicNanos: UInt64, boottimeNanos: UInt64,
        uncertaintyNanos: UInt64, samples: UInt32, reason: AnchorReason
    ) {
        self.realtimeNanos = realtimeNanos
        self.monotonicNanos = monotonicNanos
        self.boottimeNanos = boottimeNanos
        self.uncertaintyNanos = uncertaintyNanos
        self.samples = samples
        self.reasonCode = reason.rawValue
    }

    /// Wraps an ABI record as read from a segment.
    public init(_ record: rl_clock_anchor) {
        realtimeNanos = record.realtime_ns
        monotonicNanos = record.monotonic_ns
        boottimeNanos = record.boottime_ns
        uncertaintyNanos = record.uncertainty_ns
        samples = record.samples
        reasonCode = record.reason
    }

    /// An anchor from one sandwich: REALTIME read before and after the MONOTONIC (and
    /// BOOTTIME) reads. The realtime is the midpoint; the uncertainty is half the width
    /// rounded up, plus 1 ns for the truncation of each read to whole nanoseconds.
    /// Returns nil when the second realtime read is earlier than the first (the clock was
    /// stepped back mid-sandwich): such a sandwich bounds nothing.
    public init?(
        realtimeBefore: Int64, monotonic: UInt64, boottime: UInt64, realtimeAfter: Int64,
        samples: UInt32, reason: AnchorReason
    ) {
        guard realtimeAfter >= realtimeBefore else { return nil }
        let (width, overflow) = realtimeAfter.subtractingReportingOverflow(realtimeBefore)
        guard !overflow else { return nil }
        self.init(
            realtimeNanos: realtimeBefore + width / 2, monotonicNanos: monotonic,
            boottimeNanos: boottime, uncertaintyNanos: UInt64(width - width / 2) + 1,
            samples: samples, reason: reason)
    }

    /// The ABI record, for writing into a segment.
    public var record: rl_clock_anchor {
        rl_clock_anchor(
            realtime_ns: realtimeNanos, monotonic_ns: monotonicNanos, boottime_ns: boottimeNanos,
            uncertainty_ns: uncertaintyNanos, samples: samples, reason: reasonCode)
    }

    /// The decoded reason, nil for a value the ABI does not define.
    public var reason: AnchorReason? { AnchorReason(rawValue: reasonCode) }

    /// REALTIME − MONOTONIC, ns. Meaningful only for an anchor that validates (the ranges
    /// checked there make this subtraction exact).
    public var offsetNanos: Int64 { realtimeNanos &- Int64(truncatingIfNeeded: monotonicNanos) }

    /// BOOTTIME − MONOTONIC, ns: time spent suspended since boot (plus at most the
    /// sandwich width, because BOOTTIME is read just after MONOTONIC).
    public var suspendedNanos: UInt64 { boottimeNanos &- monotonicNanos }

    /// Largest REALTIME accepted: 4·10^18 ns (October 2096). Keeps every derived sum
    /// inside Int64.
    public static let maxRealtimeNanos: Int64 = 4_000_000_000_000_000_000
    /// Largest MONOTONIC / BOOTTIME accepted: 2^62 ns (146 years of uptime).
    public static let maxMonotonicNanos: UInt64 = 1 << 62

    /// Checks the fields one anchor can be judged on alone. Returns nil when the anchor is
    /// usable, else the first reason it is not.
    public func validate(options: TimebaseOptions = TimebaseOptions()) -> AnchorRejection? {
        if realtimeNanos <= 0 { return .realtimeNotPositive(realtimeNanos) }
        if realtimeNanos > Self.maxRealtimeNanos { return .realtimeOutOfRange(realtimeNanos) }
        if monotonicNanos == 0 { return .monotonicZero }
        if monotonicNanos > Self.maxMonotonicNanos || boottimeNanos > Self.maxMonotonicNanos {
            return .monotonicOutOfRange(max(monotonicNanos, boottimeNanos))
        }
        if boottimeNanos < monotonicNanos {
            return .boottimeBeforeMonotonic(boottime: boottimeNanos, monotonic: monotonicNanos)
        }
        if uncertaintyNanos > options.maxAnchorUncertaintyNanos {
            return .uncertaintyTooLarge(uncertaintyNanos, limit: options.maxAnchorUncertaintyNanos)
        }
        if samples == 0 { return .noSamples }
        if reason == nil { return .unknownReason(reasonCode) }
        return nil
    }
}

/// Why an anchor was not used. Field checks come from ``ClockAnchor/validate(options:)``;
/// the last two need the boot's other anchors. File indices count anchors of the boot in
/// the order they were given.
public enum AnchorRejection: Sendable, Hashable, CustomStringConvertible {
    case realtimeNotPositive(Int64)
    case realtimeOutOfRange(Int64)
    case monotonicZero
    case monotonicOutOfRange(UInt64)
    case boottimeBeforeMonotonic(boottime: UInt64, monotonic: UInt64)
    case uncertaintyTooLarge(UInt64, limit: UInt64)
    case noSamples
    case unknownReason(UInt32)
    /// Same monotonic time as another anchor, but the realtimes (or suspend totals)
    /// disagree by more than both uncertainties allow; neither can be trusted.
    case conflictsWith(fileIndex: Int)
    /// BOOTTIME − MONOTONIC went down compared with the previous accepted anchor: time
    /// spent suspended cannot shrink.
    case suspendTotalDecreased(byNanos: UInt64, sinceFileIndex: Int)

    /// A stable short name for the reason, for machine-readable output and schemas/time.md.
    public var code: String {
        switch self {
        case .realtimeNotPositive: "realtime-not-positive"
        case .realtimeOutOfRange: "realtime-out-of-range"
        case .monotonicZero: "monotonic-zero"
        case .monotonicOutOfRange: "monotonic-out-of-range"
        case .boottimeBeforeMonotonic: "boottime-before-monotonic"
        case .uncertaintyTooLarge: "uncertainty-too-large"
        case .noSamples: "no-samples"
        case .unknownReason: "unknown-reason"
        case .conflictsWith: "conflicting-readings"
        case .suspendTotalDecreased: "suspend-total-decreased"
        }
    }

    public var description: String {
        switch self {
        case .realtimeNotPositive(let v): "realtime \(v) ns is not positive"
        case .realtimeOutOfRange(let v): "realtime \(v) ns is beyond the year 2096"
        case .monotonicZero: "monotonic time is zero"
        case .monotonicOutOfRange(let v): "monotonic/boottime \(v) ns exceeds 2^62"
        case .boottimeBeforeMonotonic(let b, let m): "boottime \(b) ns < monotonic \(m) ns"
        case .uncertaintyTooLarge(let u, let limit):
            "uncertainty \(formatNanos(u)) exceeds the limit \(formatNanos(limit))"
        case .noSamples: "samples is 0"
        case .unknownReason(let r): "unknown reason code \(r)"
        case .conflictsWith(let i): "same monotonic time as anchor #\(i) but a different realtime"
        case .suspendTotalDecreased(let by, let i):
            "boottime−monotonic fell by \(formatNanos(by)) since anchor #\(i)"
        }
    }
}

/// What became of one anchor of a boot.
public enum AnchorDisposition: Sendable, Hashable {
    /// Used by the timeline.
    case accepted
    /// An exact or weaker copy of anchor `of` (same monotonic time, consistent readings):
    /// dropped, nothing lost. Segments repeat anchors, so this is normal.
    case duplicate(of: Int)
    /// Not used, for the reason given.
    case rejected(AnchorRejection)
}

/// Formats nanoseconds for people, exactly (trailing zeros trimmed): "812 ns",
/// "14.2 µs", "2.499051 ms", "1.00000004 s", "600 s".
func formatNanos(_ n: UInt64) -> String {
    let (unit, name): (UInt64, String) =
        n < 1_000 ? (1, "ns") : n < 1_000_000 ? (1_000, "µs") : n < 1_000_000_000 ? (1_000_000, "ms") : (1_000_000_000, "s")
    var text = String(n / unit)
    if unit > 1 && n % unit != 0 {
        var frac = String(n % unit)
        while frac.count < String(unit).count - 1 { frac = "0" + frac }
        while frac.hasSuffix("0") { frac.removeLast() }
        text += "." + frac
    }
    return text + " " + name
}

func formatSignedNanos(_ n: Int64) -> String {
    n < 0 ? "-" + formatNanos(n.magnitude) : "+" + formatNanos(UInt64(n))
}
