import DevSupport
#if canImport(Glibc)
import Glibc
#endif
import Timebase

extension SplitMix64 {
    /// Log-uniform in [lo, hi]: spans many orders of magnitude evenly.
    mutating func logUniform(_ lo: Double, _ hi: Double) -> UInt64 {
        let x = Double.random(in: 0...1, using: &self)
        return UInt64((lo * pow(hi / lo, x)).rounded())
    }
}

/// A host's true clocks over one boot, as functions of CLOCK_MONOTONIC: the true
/// REALTIME − MONOTONIC offset (slews at bounded rates, jumps at steps and suspends) and
/// the time spent suspended. The offset is tracked exactly as a real number (a Double
/// relative to an integer base, small enough to be exact to far below a nanosecond) and
/// truncated to whole nanoseconds when read, as a kernel clock is.
struct SyntheticClock {
    struct Segment {
        var start: UInt64
        var deltaAtStart: Double
        var slope: Double
        var suspendedAtStart: UInt64
    }

    let baseOffset: Int64
    private(set) var segments: [Segment]

    init(baseOffset: Int64, slope: Double = 0) {
        self.baseOffset = baseOffset
        segments = [Segment(start: 0, deltaAtStart: 0, slope: slope, suspendedAtStart: 0)]
    }

    private func segment(_ t: UInt64) -> Segment {
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].start <= t { lo = mid } else { hi = mid - 1 }
        }
        return segments[lo]
    }

    private func delta(_ t: UInt64) -> Double {
        let s = segment(t)
        return s.deltaAtStart + s.slope * Double(t - s.start)
    }

    /// From `t` on, the offset changes at `slope` (dimensionless, e.g. 5e-4) and first
    /// jumps by `jump` ns; `suspended` ns are added to the suspend total. `t` must be later
    /// than every earlier change.
    mutating func change(at t: UInt64, slope: Double, jump: Int64 = 0, suspended: UInt64 = 0) {
        let last = segments[segments.count - 1]
        precondition(t > last.start)
        segments.append(Segment(start: t, deltaAtStart: delta(t) + Double(jump), slope: slope,
                                suspendedAtStart: last.suspendedAtStart + suspended))
    }

    /// True REALTIME − MONOTONIC at `t`, truncated to a whole nanosecond.
    func offset(_ t: UInt64) -> Int64 { baseOffset + Int64(delta(t).rounded(.down)) }
    /// True REALTIME at monotonic time `t`.
    func realtime(_ t: UInt64) -> Int64 { Int64(t) + offset(t) }
    /// True BOOTTIME at monotonic time `t`.
    func boottime(_ t: UInt64) -> UInt64 { t + segment(t).suspendedAtStart }

    /// An anchor as the sampler would record it at `t`: a sandwich of width `width` ns
    /// placed at a random position around the true REALTIME, and BOOTTIME read up to
    /// `width` ns after MONOTONIC.
    func anchor(at t: UInt64, width: UInt64, reason: AnchorReason = .periodic,
                using rng: inout SplitMix64) -> ClockAnchor {
        let truth = realtime(t)
        let before = truth - Int64(UInt64.random(in: 0...width, using: &rng))
        let gap = UInt64.random(in: 0...width, using: &rng)
        return ClockAnchor(realtimeBefore: before, monotonic: t, boottime: boottime(t) + gap,
                           realtimeAfter: before + Int64(width), samples: 7, reason: reason)!
    }
}
