import RedlineBase
import CRedlineABI

/// Monotonic kernel time to wall-clock UTC (schemas/time.md).
///
/// The collector samples clock anchors (``AnchorSampler``) and writes them into every
/// segment; offline, a ``Timeline`` per boot (collected in a ``HostTimebase``) maps each
/// event's CLOCK_MONOTONIC nanoseconds to UTC nanoseconds with an error bound
/// (``CorrectedTime``). ``TimeReport`` is what `redline inspect --time` shows.
public enum TimebaseVersion {
    /// Version of the model and rules in schemas/time.md that this code implements.
    public static let current = 1
}

/// Limits of the clock model. The defaults are the values schemas/time.md documents;
/// a pipeline that changes them changes its output and must say so in its manifest.
public struct TimebaseOptions: Sendable, Hashable {
    /// Largest rate, in parts per million, at which REALTIME − MONOTONIC may drift between
    /// two anchors without a step. 500 ppm is the kernel's limit for an NTP slew.
    public var maxSlewPPM: UInt32
    /// How far before the first or after the last anchor of a boot a time may be
    /// extrapolated, in nanoseconds. Beyond it `correct` fails.
    public var maxExtrapolationNanos: UInt64
    /// Anchors whose uncertainty exceeds this, in nanoseconds, are rejected as corrupt:
    /// a sandwich that wide means the sampler was descheduled for a long time or the
    /// record is damaged.
    public var maxAnchorUncertaintyNanos: UInt64

    public init(
        maxSlewPPM: UInt32 = 500,
        maxExtrapolationNanos: UInt64 = 600_000_000_000,
        maxAnchorUncertaintyNanos: UInt64 = 100_000_000
    ) {
        self.maxSlewPPM = maxSlewPPM
        self.maxExtrapolationNanos = maxExtrapolationNanos
        self.maxAnchorUncertaintyNanos = maxAnchorUncertaintyNanos
    }

    /// The options with every limit capped where the arithmetic stays exact in Int64:
    /// slew ≤ 1,000,000 ppm, extrapolation and anchor uncertainty ≤ 2^60 ns. A timeline
    /// applies this to whatever it is given, so no setting can make it trap.
    public var capped: TimebaseOptions {
        TimebaseOptions(
            maxSlewPPM: min(maxSlewPPM, 1_000_000),
            maxExtrapolationNanos: min(maxExtrapolationNanos, 1 << 60),
            maxAnchorUncertaintyNanos: min(maxAnchorUncertaintyNanos, 1 << 60))
    }

    /// The slew limit as a rate (dimensionless).
    public var slewRate: Double { Double(maxSlewPPM) / 1_000_000 }

    /// Half-width in nanoseconds of the band around an anchor's offset that the true
    /// offset stays in, `distance` nanoseconds of monotonic time away from the anchor:
    /// the anchor's own uncertainty, plus the slew limit times the distance (rounded up),
    /// plus 1 ns because both clocks are truncated to whole nanoseconds when read.
    @inline(__always)
    func coneHalfWidth(uncertainty: UInt64, distance: UInt64) -> Int64 {
        Int64(uncertainty) + ceilToInt64(slewRate * Double(distance)) + 1
    }
}

/// A wall-clock time with its error bound: the host's CLOCK_REALTIME at the event lies
/// in `utcNanos ± uncertaintyNanos` (under the model in schemas/time.md).
public struct CorrectedTime: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch, UTC.
    public var utcNanos: Int64
    /// Half-width of the interval the true wall-clock time lies in, nanoseconds.
    public var uncertaintyNanos: UInt64

    public init(utcNanos: Int64, uncertaintyNanos: UInt64) {
        self.utcNanos = utcNanos
        self.uncertaintyNanos = uncertaintyNanos
    }
}

/// Why a monotonic time could not be corrected. The pipeline counts these per partition.
public enum TimeCorrectionError: Error, Sendable, Hashable {
    /// The host has no anchors for this boot at all.
    case unknownBoot(BootID)
    /// The boot has anchors, but every one was rejected.
    case noValidAnchors(BootID)
    /// The time lies before the first anchor by more than the extrapolation limit.
    case beforeFirstAnchor(byNanos: UInt64, limitNanos: UInt64)
    /// The time lies after the last anchor by more than the extrapolation limit.
    case afterLastAnchor(byNanos: UInt64, limitNanos: UInt64)
}
