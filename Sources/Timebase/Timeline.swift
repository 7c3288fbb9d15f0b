import RedlineBase

/// Where the REALTIME − MONOTONIC offset changed between two consecutive anchors by more
/// than slewing can explain: a wall-clock step or a suspend. Its monotonic position is
/// known only to lie in `(before.monotonicNanos, after.monotonicNanos]`.
public struct ClockDiscontinuity: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// REALTIME was set (NTP step, `date -s`, VM clock resync).
        case step
        /// The host slept for `suspendedNanos` (BOOTTIME − MONOTONIC grew by that much);
        /// MONOTONIC stopped while REALTIME went on.
        case suspend(suspendedNanos: UInt64)
    }

    public var kind: Kind
    /// The anchors on either side (accepted, consecutive in monotonic order).
    public var before: ClockAnchor
    public var after: ClockAnchor
    /// Their indices in the order the anchors were given.
    public var beforeFileIndex: Int
    public var afterFileIndex: Int
    /// Largest offset change, ns, that slewing plus both anchors' uncertainties allow
    /// across this interval; the observed change exceeded it (or a suspend was seen).
    public var slewAllowanceNanos: UInt64

    /// `after.offset − before.offset`, ns: positive when the clock jumped forward.
    public var offsetChangeNanos: Int64 { after.offsetNanos - before.offsetNanos }
    /// Length of the monotonic window the discontinuity lies in, ns.
    public var windowNanos: UInt64 { after.monotonicNanos - before.monotonicNanos }
}

/// The wall-clock mapping of one boot of one host: CLOCK_MONOTONIC ns → UTC ns with an
/// error bound, built from that boot's anchors (schemas/time.md, "Rules").
///
/// Construction sorts, de-duplicates and validates the anchors, finds steps and suspends,
/// and precomputes one piece per anchor interval; ``correct(monotonicNanos:)`` is then a
/// binary search plus a few integer operations. For runs of nearby times use a
/// ``Cursor``, which remembers the last piece. Immutable and `Sendable`.
///
/// Guarantees, for any two times `a ≤ b` that both correct: `utc(a) ≤ utc(b)`; and, if the
/// host's clocks obeyed the model, `|utc − true REALTIME| ≤ uncertainty`.
public struct Timeline: Sendable {
    public let bootID: BootID
    /// The options in force (``TimebaseOptions/capped``).
    public let options: TimebaseOptions
    /// Every anchor given, in the order given, with what became of it.
    public let dispositions: [(anchor: ClockAnchor, disposition: AnchorDisposition)]
    /// Accepted anchors in monotonic order, with their indices in the given order.
    public let accepted: [(fileIndex: Int, anchor: ClockAnchor)]
    /// Steps and suspends, in monotonic order.
    public let discontinuities: [ClockDiscontinuity]
    /// Anchors given out of monotonic order (they are sorted; this only reports it).
    public let outOfOrderCount: Int

    let pieces: [Piece]

    /// Builds the mapping for one boot from its anchors, in the order they were read
    /// (across segments). Never fails: unusable anchors are recorded in ``dispositions``;
    /// with no usable anchor every correction fails with `noValidAnchors`.
    public init(bootID: BootID, anchors: [ClockAnchor], options requested: TimebaseOptions = TimebaseOptions()) {
        let options = requested.capped
        self.bootID = bootID
        self.options = options
        var disposition = [AnchorDisposition](repeating: .accepted, count: anchors.count)

        var outOfOrder = 0
        var previousMono: UInt64 = 0
        for a in anchors {
            if a.monotonicNanos < previousMono { outOfOrder += 1 }
            previousMono = max(previousMono, a.monotonicNanos)
        }
        outOfOrderCount = outOfOrder

        // 1. Field checks.
        var candidates: [Int] = []
        for (i, a) in anchors.enumerated() {
            if let why = a.validate(options: options) {
                disposition[i] = .rejected(why)
            } else {
                candidates.append(i)
            }
        }
        // 2. Monotonic order; the index breaks ties so the result does not depend on the
        // sort algorithm.
        candidates.sort {
            (anchors[$0].monotonicNanos, $0) < (anchors[$1].monotonicNanos, $1)
        }
        // 3. Anchors at one monotonic instant: if all pairs agree within their
        // uncertainties, keep the tightest (first on ties) and mark the rest duplicates;
        // if any pair disagrees, the instant has two histories and all are rejected.
        var unique: [Int] = []
        var start = 0
        while start < candidates.count {
            var end = start + 1
            let mono = anchors[candidates[start]].monotonicNanos
            while end < candidates.count && anchors[candidates[end]].monotonicNanos == mono { end += 1 }
            let group = Array(candidates[start..<end])
            start = end
            if group.count == 1 { unique.append(group[0]); continue }
            if let (x, y) = Self.conflict(in: group.map { anchors[$0] }) {
                for i in group {
                    disposition[i] = .rejected(.conflictsWith(fileIndex: i == group[x] ? group[y] : group[x]))
                }
                continue
            }
            let keep = group.min {
                (anchors[$0].uncertaintyNanos, $0) < (anchors[$1].uncertaintyNanos, $1)
            }!
            for i in group where i != keep { disposition[i] = .duplicate(of: keep) }
            unique.append(keep)
        }
        // 4. Time spent suspended never shrinks within a boot. BOOTTIME is read after
        // MONOTONIC, so each anchor's BOOTTIME − MONOTONIC overstates it by at most the
        // sandwich width (≤ 2·uncertainty); a fall larger than both widths is impossible
        // and the later anchor is rejected.
        var kept: [Int] = []
        for i in unique {
            if let last = kept.last {
                let a = anchors[last], b = anchors[i]
                let slack = 2 * (a.uncertaintyNanos + b.uncertaintyNanos)
                if b.suspendedNanos + slack < a.suspendedNanos {
                    disposition[i] = .rejected(.suspendTotalDecreased(
                        byNanos: a.suspendedNanos - b.suspendedNanos, sinceFileIndex: last))
                    continue
                }
            }
            kept.append(i)
        }

        dispositions = anchors.indices.map { (anchors[$0], disposition[$0]) }
        accepted = kept.map { ($0, anchors[$0]) }

        // 5. Classify each interval and build the pieces.
        var found: [ClockDiscontinuity] = []
        var pieces: [Piece] = []
        if let first = accepted.first?.anchor, let last = accepted.last?.anchor {
            let e = options.maxExtrapolationNanos
            let before = first.monotonicNanos > e ? first.monotonicNanos - e : 0
            if before < first.monotonicNanos {
                pieces.append(Piece(kind: .extrapolateBefore, start: before, end: first.monotonicNanos,
                                    a: Knot(first), b: Knot(first), options: options))
            }
            for k in accepted.indices.dropLast() {
                let (ia, a) = accepted[k]
                let (ib, b) = accepted[k + 1]
                let span = b.monotonicNanos - a.monotonicNanos
                let allowance = UInt64(options.coneHalfWidth(uncertainty: 0, distance: span))
                    + a.uncertaintyNanos + b.uncertaintyNanos
                let change = (b.offsetNanos - a.offsetNanos).magnitude
                let suspendGrowth = b.suspendedNanos > a.suspendedNanos ? b.suspendedNanos - a.suspendedNanos : 0
                let suspended = suspendGrowth > 2 * (a.uncertaintyNanos + b.uncertaintyNanos)
                let kind: PieceKind
                if suspended || change > allowance {
                    kind = .discontinuity
                    found.append(ClockDiscontinuity(
                        kind: suspended ? .suspend(suspendedNanos: suspendGrowth) : .step,
                        before: a, after: b, beforeFileIndex: ia, afterFileIndex: ib,
                        slewAllowanceNanos: allowance))
                } else {
                    kind = .interpolate
                }
                pieces.append(Piece(kind: kind, start: a.monotonicNanos, end: b.monotonicNanos,
                                    a: Knot(a), b: Knot(b), options: options))
            }
            pieces.append(Piece(kind: .extrapolateAfter, start: last.monotonicNanos,
                                end: last.monotonicNanos + e + 1, a: Knot(last), b: Knot(last), options: options))
        }
        // 6. The clamp that makes the output monotone: each piece's floor is the largest
        // value any earlier time maps to. Within a piece the estimate is linear, so its
        // largest value is at one of its ends.
        var runningMax = Int64.min
        for k in pieces.indices {
            let startValue = sat(Int64(pieces[k].start), plus: pieces[k].estimateOffset(at: pieces[k].start))
            pieces[k].floor = max(startValue, runningMax)
            let lastTime = pieces[k].end - 1
            let endValue = sat(Int64(lastTime), plus: pieces[k].estimateOffset(at: lastTime))
            runningMax = max(pieces[k].floor, endValue)
        }
        discontinuities = found
        self.pieces = pieces
    }

    /// Readings at one monotonic instant agree pairwise when their realtimes differ by no
    /// more than both uncertainties and their suspend totals by no more than both widths.
    /// Each condition says the intervals `r ± u` (or `s ± 2u`) pairwise overlap, which
    /// on a line holds exactly when all of them share a point; so one pass finds the
    /// interval reaching furthest right from below and the one reaching furthest left from
    /// above, and if they do not overlap that pair is returned (positions in `group`).
    static func conflict(in group: [ClockAnchor]) -> (Int, Int)? {
        func check(_ centre: (ClockAnchor) -> Int64, _ halfWidth: (ClockAnchor) -> Int64) -> (Int, Int)? {
            var highestLow = 0, lowestHigh = 0
            for (k, a) in group.enumerated() {
                if centre(a) - halfWidth(a) > centre(group[highestLow]) - halfWidth(group[highestLow]) { highestLow = k }
                if centre(a) + halfWidth(a) < centre(group[lowestHigh]) + halfWidth(group[lowestHigh]) { lowestHigh = k }
            }
            let low = centre(group[highestLow]) - halfWidth(group[highestLow])
            let high = centre(group[lowestHigh]) + halfWidth(group[lowestHigh])
            return low > high ? (min(highestLow, lowestHigh), max(highestLow, lowestHigh)) : nil
        }
        return check({ $0.realtimeNanos }, { Int64($0.uncertaintyNanos) })
            ?? check({ Int64($0.suspendedNanos) }, { 2 * Int64($0.uncertaintyNanos) })
    }

    /// Monotonic range (inclusive) that corrects, nil if no anchor was accepted.
    public var coverage: ClosedRange<UInt64>? {
        guard let first = pieces.first, let last = pieces.last else { return nil }
        return first.start...(last.end - 1)
    }

    /// Maps one CLOCK_MONOTONIC time of this boot to UTC. O(log anchors).
    public func correct(monotonicNanos t: UInt64) -> Result<CorrectedTime, TimeCorrectionError> {
        guard let first = pieces.first, let last = pieces.last else { return .failure(.noValidAnchors(bootID)) }
        if t < first.start { return .failure(outOfRangeBefore(t)) }
        if t >= last.end { return .failure(outOfRangeAfter(t)) }
        return .success(pieces[pieceIndex(t)].correct(t))
    }

    /// Maps many times; each result as ``correct(monotonicNanos:)`` would give. Uses a
    /// ``Cursor``, so sorted or nearly sorted input costs O(1) per time.
    public func correct<S: Sequence<UInt64>>(batch: S) -> [Result<CorrectedTime, TimeCorrectionError>] {
        var cursor = makeCursor()
        return batch.map { cursor.correct(monotonicNanos: $0) }
    }

    /// A cursor for runs of times: remembers the piece of the last lookup and checks it
    /// and the next one before searching. Owns a copy of the timeline's pieces (shared,
    /// copy-on-write), so use one cursor per thread.
    public func makeCursor() -> Cursor { Cursor(timeline: self) }

    public struct Cursor: Sendable {
        let timeline: Timeline
        let pieces: [Piece]
        var index = 0

        init(timeline: Timeline) {
            self.timeline = timeline
            pieces = timeline.pieces
        }

        public mutating func correct(monotonicNanos t: UInt64) -> Result<CorrectedTime, TimeCorrectionError> {
            if index < pieces.count {
                let p = pieces[index]
                if t >= p.start && t < p.end { return .success(p.correct(t)) }
                if t >= p.end && index + 1 < pieces.count && t < pieces[index + 1].end {
                    index += 1
                    return .success(pieces[index].correct(t))
                }
            }
            let result = timeline.correct(monotonicNanos: t)
            if case .success = result { index = timeline.pieceIndex(t) }
            return result
        }

        /// One correction for a whole block of times `first...last` (the smallest and largest
        /// monotonic times of its records), or nil where per-time correction is needed: the block
        /// straddles pieces, or its piece's offset changes within it (a drift between its anchors,
        /// a discontinuity). Where it is given, every time `t` of the block corrects to
        /// `t + offsetNanos`, exactly as ``correct(monotonicNanos:)`` would, and
        /// ``BlockCorrection/maxUncertaintyNanos(highestAtOrBelowPeak:lowestAbovePeak:)`` gives the
        /// largest uncertainty of any chosen set of the block's times from two of them.
        public mutating func blockCorrection(first: UInt64, last: UInt64) -> BlockCorrection? {
            guard first <= last, first > 0, let cover = timeline.coverage, cover.contains(first), cover.contains(last)
            else { return nil }
            let p = pieces[index]
            if !(first >= p.start && first < p.end) { index = timeline.pieceIndex(first) }
            let piece = pieces[index]
            guard last < piece.end else { return nil }
            // A constant estimate: one anchor's offset, or two anchors' equal offsets.
            switch piece.kind {
            case .extrapolateBefore, .extrapolateAfter: break
            case .interpolate: guard piece.a.offset == piece.b.offset else { return nil }
            case .discontinuity: return nil
            }
            let offset = piece.a.offset
            let limit: Int64 = 1 << 61
            // Far from saturation everywhere in the block (then the bound below is exact), and
            // above the monotonicity floor at its first time (hence at every later one).
            guard offset.magnitude < limit, last < 1 << 62,
                  Int64(first) + offset >= piece.floor else { return nil }
            let peak: UInt64
            switch piece.kind {
            case .extrapolateAfter:
                // The bound is the cone from the one anchor, growing with time.
                guard piece.cone(piece.a.uncertainty, last - piece.a.mono) < limit else { return nil }
                peak = .max
            case .extrapolateBefore:
                // The cone shrinks towards the anchor: the earliest time has the largest bound.
                guard piece.cone(piece.a.uncertainty, piece.a.mono - first) < limit else { return nil }
                peak = 0
            default:
                // Equal offsets: the bound is min(cone from a, cone from b), the first growing and the
                // second shrinking with time, so it rises up to the last time where a's cone is the
                // narrower and falls after it.
                func wa(_ t: UInt64) -> Int64 { piece.cone(piece.a.uncertainty, t - piece.a.mono) }
                func wb(_ t: UInt64) -> Int64 { piece.cone(piece.b.uncertainty, piece.b.mono - t) }
                guard wa(last) < limit, wb(first) < limit else { return nil }
                if wa(last) <= wb(last) {
                    peak = last
                } else if wa(first) > wb(first) {
                    peak = first - 1
                } else {
                    var lo = first, hi = last  // wa(lo) <= wb(lo), wa(hi) > wb(hi)
                    while hi - lo > 1 {
                        let mid = lo + (hi - lo) / 2
                        if wa(mid) <= wb(mid) { lo = mid } else { hi = mid }
                    }
                    peak = lo
                }
            }
            return BlockCorrection(offsetNanos: offset, peakNanos: peak, piece: piece)
        }
    }
}

/// A block's correction (``Timeline/Cursor/blockCorrection(first:last:)``): one offset, and
/// the shape of the uncertainty over the block — rising (not strictly) up to `peakNanos`,
/// falling after it — so the largest uncertainty of any set of its times is at the set's
/// highest time at or below the peak or at its lowest time above it.
public struct BlockCorrection: Sendable {
    /// UTC − monotonic, ns, for every time of the block.
    public let offsetNanos: Int64
    public let peakNanos: UInt64
    let piece: Piece

    /// The largest uncertainty of a set of the block's times, given its highest time at or
    /// below `peakNanos` and its lowest time above it (nil where it has none); 0 for no time.
    public func maxUncertaintyNanos(highestAtOrBelowPeak below: UInt64?, lowestAbovePeak above: UInt64?) -> UInt64 {
        max(below.map { piece.correct($0).uncertaintyNanos } ?? 0, above.map { piece.correct($0).uncertaintyNanos } ?? 0)
    }
}

extension Timeline {
    /// Index of the piece containing `t`; `t` must lie within coverage.
    func pieceIndex(_ t: UInt64) -> Int {
        var lo = 0, hi = pieces.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if pieces[mid].start <= t { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    func outOfRangeBefore(_ t: UInt64) -> TimeCorrectionError {
        .beforeFirstAnchor(byNanos: accepted[0].anchor.monotonicNanos - t,
                           limitNanos: options.maxExtrapolationNanos)
    }

    func outOfRangeAfter(_ t: UInt64) -> TimeCorrectionError {
        .afterLastAnchor(byNanos: t - accepted[accepted.count - 1].anchor.monotonicNanos,
                         limitNanos: options.maxExtrapolationNanos)
    }
}

/// An anchor reduced to what the mapping needs.
struct Knot: Sendable {
    var mono: UInt64
    var offset: Int64
    var uncertainty: UInt64
    init(_ a: ClockAnchor) {
        mono = a.monotonicNanos
        offset = a.offsetNanos
        uncertainty = a.uncertaintyNanos
    }
}

enum PieceKind: Sendable { case extrapolateBefore, interpolate, discontinuity, extrapolateAfter }

/// The mapping on `[start, end)` of monotonic time: an estimate of the offset (the
/// realtime minus the monotonic time), a band the true offset must lie in, and the floor
/// that keeps the output monotone. `a` and `b` are the bracketing anchors (both the one
/// anchor for the extrapolation pieces).
struct Piece: Sendable {
    var kind: PieceKind
    var start: UInt64
    var end: UInt64
    var a: Knot
    var b: Knot
    /// (b.offset − a.offset) / (b.mono − a.mono), for interpolation.
    var rate: Double
    /// No time in this piece maps below this UTC value.
    var floor: Int64 = .min
    /// Slew limit, copied in so a piece evaluates alone.
    var slewRate: Double = 0

    init(kind: PieceKind, start: UInt64, end: UInt64, a: Knot, b: Knot, options: TimebaseOptions) {
        self.kind = kind
        self.start = start
        self.end = end
        self.a = a
        self.b = b
        rate = b.mono > a.mono ? Double(b.offset - a.offset) / Double(b.mono - a.mono) : 0
        slewRate = options.slewRate
    }

    /// Same as ``TimebaseOptions/coneHalfWidth(uncertainty:distance:)``. Distances are
    /// below 2^63 (monotonic times are capped at 2^62), so the signed conversion, a single
    /// instruction, is exact where the unsigned one is a branchy sequence.
    @inline(__always)
    func cone(_ u: UInt64, _ distance: UInt64) -> Int64 {
        Int64(u) + ceilToInt64(slewRate * Double(Int64(truncatingIfNeeded: distance))) + 1
    }

    /// The estimated offset at `t` (before clamping).
    @inline(__always)
    func estimateOffset(at t: UInt64) -> Int64 {
        switch kind {
        case .extrapolateBefore, .extrapolateAfter:
            return a.offset
        case .interpolate:
            return a.offset + roundToInt64(rate * Double(Int64(truncatingIfNeeded: t - a.mono)))
        case .discontinuity:
            // At the first anchor the clock has not jumped yet; after it, the jump may have
            // happened anywhere, so the midpoint of the two offsets.
            return t == a.mono ? a.offset : a.offset + (b.offset - a.offset) / 2
        }
    }

    /// The band [lo, hi] the true offset at `t` lies in under the model.
    @inline(__always)
    func band(at t: UInt64) -> (lo: Int64, hi: Int64) {
        switch kind {
        case .extrapolateBefore:
            let w = cone(a.uncertainty, a.mono - t)
            return (sat(a.offset, minus: w), sat(a.offset, plus: w))
        case .extrapolateAfter:
            let w = cone(a.uncertainty, t - a.mono)
            return (sat(a.offset, minus: w), sat(a.offset, plus: w))
        case .interpolate:
            // Continuous with bounded slope from both anchors: inside both cones.
            let wa = cone(a.uncertainty, t - a.mono), wb = cone(b.uncertainty, b.mono - t)
            return (max(sat(a.offset, minus: wa), sat(b.offset, minus: wb)),
                    min(sat(a.offset, plus: wa), sat(b.offset, plus: wb)))
        case .discontinuity:
            let wa = cone(a.uncertainty, t - a.mono)
            if t == a.mono { return (sat(a.offset, minus: wa), sat(a.offset, plus: wa)) }
            // Before the jump inside a's cone, after it inside b's: their union.
            let wb = cone(b.uncertainty, b.mono - t)
            return (min(sat(a.offset, minus: wa), sat(b.offset, minus: wb)),
                    max(sat(a.offset, plus: wa), sat(b.offset, plus: wb)))
        }
    }

    @inline(__always)
    func correct(_ t: UInt64) -> CorrectedTime {
        let value = max(sat(Int64(t), plus: estimateOffset(at: t)), floor)
        let offset = sat(value, minus: Int64(t))
        let (lo, hi) = band(at: t)
        let bound = max(sat(offset, minus: lo), sat(hi, minus: offset), 0)
        return CorrectedTime(utcNanos: value, uncertaintyNanos: UInt64(bound))
    }
}

/// Saturating addition and subtraction: only reachable with anchors at the extremes of
/// the accepted ranges, where a bound of Int64.max ns is the honest answer.
@inline(__always)
func sat(_ a: Int64, plus b: Int64) -> Int64 {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? (b > 0 ? .max : .min) : r
}

@inline(__always)
func sat(_ a: Int64, minus b: Int64) -> Int64 {
    let (r, o) = a.subtractingReportingOverflow(b)
    return o ? (b < 0 ? .max : .min) : r
}

/// ⌈x⌉ for 0 ≤ x < 2^63, without a libm call (this is on the per-event path).
@inline(__always)
func ceilToInt64(_ x: Double) -> Int64 {
    let i = Int64(x)
    return Double(i) < x ? i + 1 : i
}

/// x rounded half away from zero, for |x| < 2^62, without a libm call.
@inline(__always)
func roundToInt64(_ x: Double) -> Int64 {
    Int64(x >= 0 ? x + 0.5 : x - 0.5)
}
