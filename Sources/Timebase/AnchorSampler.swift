#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A clock read failed.
public enum ClockReadError: Error, Sendable, Hashable {
    /// `clock_gettime(clock)` returned an error; `errno` is the C errno value.
    case clockGettime(clock: String, errno: Int32)
    /// Every sandwich in `attempts` had its second REALTIME read earlier than its first
    /// (the clock was being stepped back repeatedly), so no bound could be formed.
    case noValidSandwich(attempts: Int)
}

/// Takes clock anchors on this host: best-of-K sandwiches (REALTIME, MONOTONIC, BOOTTIME,
/// REALTIME), keeping the one whose two REALTIME reads are closest. Its midpoint is the
/// anchor's realtime and half its width (rounded up, +1 ns) its uncertainty, because the
/// true REALTIME at the MONOTONIC read lies between the two REALTIME reads.
///
/// Stateless and `Sendable`; each `sample` makes 4·K `clock_gettime` calls (vDSO, tens of
/// nanoseconds each), so it is cheap enough to call every second.
public struct AnchorSampler: Sendable {
    /// K: sandwiches per anchor. More sandwiches make a tight one likelier when the
    /// thread is preempted or interrupted mid-sandwich.
    public var sandwiches: Int
    /// Sandwiches allowed in all, counting those discarded because REALTIME went back.
    public var maxAttempts: Int

    public init(sandwiches: Int = 7, maxAttempts: Int = 64) {
        self.sandwiches = max(1, sandwiches)
        self.maxAttempts = max(self.sandwiches, maxAttempts)
    }

    /// Reads the clocks and returns the tightest of K sandwiches as an anchor.
    /// - Throws: `ClockReadError` if a `clock_gettime` call fails or no sandwich is valid.
    public func sample(reason: AnchorReason) throws(ClockReadError) -> ClockAnchor {
        var best: ClockAnchor?
        var valid = 0
        var attempts = 0
        while valid < sandwiches && attempts < maxAttempts {
            attempts += 1
            let r1 = try Self.read(CLOCK_REALTIME, "CLOCK_REALTIME")
            let m = try Self.read(CLOCK_MONOTONIC, "CLOCK_MONOTONIC")
            let b = try Self.read(CLOCK_BOOTTIME, "CLOCK_BOOTTIME")
            let r2 = try Self.read(CLOCK_REALTIME, "CLOCK_REALTIME")
            guard let anchor = ClockAnchor(
                realtimeBefore: r1, monotonic: UInt64(m), boottime: UInt64(b), realtimeAfter: r2,
                samples: 0, reason: reason)
            else { continue }
            valid += 1
            if best == nil || anchor.uncertaintyNanos < best!.uncertaintyNanos { best = anchor }
        }
        guard var chosen = best else { throw .noValidSandwich(attempts: attempts) }
        chosen.samples = UInt32(clamping: valid)
        return chosen
    }

    /// Whether REALTIME − MONOTONIC now differs from `anchor`'s offset by more than
    /// `thresholdNanos` plus both reads' uncertainties: the collector's cue to take a
    /// ``AnchorReason/step`` anchor. One sandwich, so cheap to poll.
    public func offsetMoved(since anchor: ClockAnchor, thresholdNanos: UInt64) throws(ClockReadError) -> Bool {
        let r1 = try Self.read(CLOCK_REALTIME, "CLOCK_REALTIME")
        let m = try Self.read(CLOCK_MONOTONIC, "CLOCK_MONOTONIC")
        let r2 = try Self.read(CLOCK_REALTIME, "CLOCK_REALTIME")
        // A sandwich that went backwards straddled a backward step.
        guard let now = ClockAnchor(
            realtimeBefore: r1, monotonic: UInt64(m), boottime: UInt64(m), realtimeAfter: r2,
            samples: 1, reason: .step)
        else { return true }
        let moved = (now.offsetNanos &- anchor.offsetNanos).magnitude
        return moved > thresholdNanos &+ now.uncertaintyNanos &+ anchor.uncertaintyNanos
    }

    /// `clock_gettime(clock)` in nanoseconds.
    @inline(__always)
    static func read(_ clock: clockid_t, _ name: String) throws(ClockReadError) -> Int64 {
        var ts = timespec()
        guard clock_gettime(clock, &ts) == 0 else { throw .clockGettime(clock: name, errno: errno) }
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
