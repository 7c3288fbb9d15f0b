import RedlineBase
import CRedlineABI

/// What `redline inspect --time` shows for one boot's anchors (typically one segment's):
/// every anchor with its derived offset and fate, the steps and suspends found between
/// them, and how uncertain corrected times are. ``render()`` gives the plain-text form.
public struct TimeReport: Sendable {
    /// One anchor as given, with what the timeline made of it.
    public struct AnchorRow: Sendable {
        /// Position among the anchors given (file order).
        public var fileIndex: Int
        public var anchor: ClockAnchor
        /// REALTIME − MONOTONIC, ns.
        public var offsetNanos: Int64
        /// BOOTTIME − MONOTONIC, ns: time suspended since boot.
        public var suspendedNanos: UInt64
        public var disposition: AnchorDisposition
    }

    /// One step or suspend and the largest uncertainty of a time inside its window.
    public struct StepRow: Sendable {
        public var discontinuity: ClockDiscontinuity
        public var worstUncertaintyNanos: UInt64
    }

    /// How sure corrected times are.
    public struct UncertaintySummary: Sendable, Hashable {
        /// Uncertainty of the accepted anchors themselves, ns (nil without anchors).
        public var anchorMinNanos: UInt64?
        public var anchorMedianNanos: UInt64?
        public var anchorMaxNanos: UInt64?
        /// Largest uncertainty of a time between two anchors not separated by a step or
        /// suspend, and the monotonic time where it occurs (nil with fewer than two anchors).
        public var worstInterpolatedNanos: UInt64?
        public var worstInterpolatedAtMonotonicNanos: UInt64?
        /// Largest uncertainty inside a step or suspend window (nil without one).
        public var worstInsideStepNanos: UInt64?
        /// Uncertainty at the extrapolation limit after the last anchor.
        public var atExtrapolationLimitNanos: UInt64?
    }

    public let bootID: BootID
    public let options: TimebaseOptions
    public let anchors: [AnchorRow]
    public let steps: [StepRow]
    public let outOfOrderCount: Int
    /// Monotonic range that corrects (anchors ± the extrapolation limit).
    public let coverage: ClosedRange<UInt64>?
    public let uncertainty: UncertaintySummary

    /// Anchors rejected, with their reasons.
    public var rejected: [(fileIndex: Int, reason: AnchorRejection)] {
        anchors.compactMap { row in
            if case .rejected(let why) = row.disposition { return (row.fileIndex, why) }
            return nil
        }
    }

    /// The report for one boot's anchor records, in file order.
    public init(bootID: BootID, records: [rl_clock_anchor], options: TimebaseOptions = TimebaseOptions()) {
        self.init(timeline: Timeline(bootID: bootID, anchors: records.map(ClockAnchor.init), options: options))
    }

    /// The report of an already built timeline.
    public init(timeline: Timeline) {
        bootID = timeline.bootID
        options = timeline.options
        anchors = timeline.dispositions.enumerated().map { i, entry in
            AnchorRow(fileIndex: i, anchor: entry.anchor, offsetNanos: entry.anchor.offsetNanos,
                      suspendedNanos: entry.anchor.suspendedNanos, disposition: entry.disposition)
        }
        outOfOrderCount = timeline.outOfOrderCount
        coverage = timeline.coverage

        var summary = UncertaintySummary()
        let us = timeline.accepted.map(\.anchor.uncertaintyNanos).sorted()
        if !us.isEmpty {
            summary.anchorMinNanos = us.first
            summary.anchorMaxNanos = us.last
            summary.anchorMedianNanos = us[(us.count - 1) / 2]
        }
        var steps: [StepRow] = []
        var worstStep: UInt64?
        var discontinuityAt: [UInt64: ClockDiscontinuity] = [:]
        for d in timeline.discontinuities { discontinuityAt[d.before.monotonicNanos] = d }
        for piece in timeline.pieces {
            switch piece.kind {
            case .interpolate:
                let (worst, at) = piece.worstUncertainty()
                if worst > (summary.worstInterpolatedNanos ?? 0) || summary.worstInterpolatedNanos == nil {
                    summary.worstInterpolatedNanos = worst
                    summary.worstInterpolatedAtMonotonicNanos = at
                }
            case .discontinuity:
                let (worst, _) = piece.worstUncertainty()
                worstStep = max(worstStep ?? 0, worst)
                if let d = discontinuityAt[piece.start] {
                    steps.append(StepRow(discontinuity: d, worstUncertaintyNanos: worst))
                }
            case .extrapolateAfter:
                summary.atExtrapolationLimitNanos = piece.correct(piece.end - 1).uncertaintyNanos
            case .extrapolateBefore:
                break
            }
        }
        summary.worstInsideStepNanos = worstStep
        self.steps = steps
        uncertainty = summary
    }

    /// Plain text for a terminal: a header, one line per anchor, the steps, the summary.
    public func render() -> String {
        var out: [String] = []
        let accepted = anchors.filter { $0.disposition == .accepted }.count
        let duplicates = anchors.filter { if case .duplicate = $0.disposition { true } else { false } }.count
        out.append("boot \(bootID): \(anchors.count) anchors, \(accepted) accepted, \(duplicates) duplicate, "
            + "\(anchors.count - accepted - duplicates) rejected, \(outOfOrderCount) out of monotonic order")
        out.append("model: slew ≤ \(options.maxSlewPPM) ppm, extrapolation ≤ \(formatNanos(options.maxExtrapolationNanos)), "
            + "anchor uncertainty ≤ \(formatNanos(options.maxAnchorUncertaintyNanos))")
        out.append("")
        let header = [pad("#", 4), pad("reason", 9), pad("monotonic", 22), pad("realtime (UTC)", 31),
                      pad("offset (realtime−monotonic)", 30), pad("uncertainty", 12), pad("suspended", 14), "status"]
        out.append(header.joined(separator: " "))
        for row in anchors {
            let a = row.anchor
            let status: String
            switch row.disposition {
            case .accepted: status = "accepted"
            case .duplicate(let of): status = "duplicate of #\(of)"
            case .rejected(let why): status = "REJECTED: \(why)"
            }
            out.append([
                pad("\(row.fileIndex)", 4), pad(a.reason?.name ?? "code \(a.reasonCode)", 9),
                pad(formatSeconds(a.monotonicNanos), 22), pad(utcISO8601(ns: a.realtimeNanos), 31),
                pad(formatSignedSeconds(row.offsetNanos), 30), pad("±" + formatNanos(a.uncertaintyNanos), 12),
                pad(a.boottimeNanos >= a.monotonicNanos ? formatNanos(row.suspendedNanos) : "-", 14), status,
            ].joined(separator: " "))
        }
        out.append("")
        out.append("steps and suspends: \(steps.count)")
        for s in steps {
            let d = s.discontinuity
            let what: String
            switch d.kind {
            case .step: what = "step   "
            case .suspend(let slept): what = "suspend (slept \(formatNanos(slept)))"
            }
            out.append("  \(what) between #\(d.beforeFileIndex) and #\(d.afterFileIndex): offset "
                + "\(formatSignedNanos(d.offsetChangeNanos)) within a window of \(formatNanos(d.windowNanos)) "
                + "(slew allows \(formatNanos(d.slewAllowanceNanos))); uncertainty inside up to "
                + "\(formatNanos(s.worstUncertaintyNanos))")
        }
        out.append("")
        let u = uncertainty
        var line = "uncertainty:"
        if let lo = u.anchorMinNanos, let med = u.anchorMedianNanos, let hi = u.anchorMaxNanos {
            line += " anchors min \(formatNanos(lo)), median \(formatNanos(med)), max \(formatNanos(hi))"
        } else {
            line += " no accepted anchors, nothing corrects"
        }
        out.append(line)
        if let w = u.worstInterpolatedNanos, let at = u.worstInterpolatedAtMonotonicNanos {
            out.append("  between anchors up to \(formatNanos(w)) (at monotonic \(formatSeconds(at)))")
        }
        if let w = u.worstInsideStepNanos {
            out.append("  inside step/suspend windows up to \(formatNanos(w))")
        }
        if let w = u.atExtrapolationLimitNanos {
            out.append("  \(formatNanos(options.maxExtrapolationNanos)) after the last anchor: \(formatNanos(w))")
        }
        if let c = coverage {
            out.append("coverage: monotonic \(formatSeconds(c.lowerBound)) … \(formatSeconds(c.upperBound))")
        }
        return out.joined(separator: "\n") + "\n"
    }
}

extension Piece {
    /// The largest uncertainty of any time in this piece, and where. The uncertainty is
    /// piecewise linear in time, so its maximum is at an end of the piece, where two cone
    /// edges cross, or where the monotone clamp lets go; those points (±1 ns) are checked.
    func worstUncertainty() -> (nanos: UInt64, atMonotonic: UInt64) {
        var candidates: [UInt64] = [start, end - 1, start + (end - 1 - start) / 2]
        if slewRate > 0 && kind != .extrapolateBefore && kind != .extrapolateAfter {
            let span = Double(b.mono - a.mono)
            let loA = Double(a.offset) - Double(a.uncertainty), loB = Double(b.offset) - Double(b.uncertainty)
            let hiA = Double(a.offset) + Double(a.uncertainty), hiB = Double(b.offset) + Double(b.uncertainty)
            for x in [(slewRate * span - (loB - loA)) / (2 * slewRate), (slewRate * span + (hiB - hiA)) / (2 * slewRate)]
            where x.isFinite && x >= 0 && x < span {
                candidates.append(a.mono + UInt64(x))
            }
        }
        // First time whose estimate reaches the floor (the estimate is non-decreasing
        // after the piece's first instant whenever the clamp can let go).
        var lo = start, hi = end - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if sat(Int64(mid), plus: estimateOffset(at: mid)) >= floor { hi = mid } else { lo = mid + 1 }
        }
        candidates.append(lo)
        var worst: (UInt64, UInt64) = (0, start)
        for c in candidates {
            for t in [c &- 1, c, c &+ 1] where t >= start && t < end {
                let u = correct(t).uncertaintyNanos
                if u > worst.0 { worst = (u, t) }
            }
        }
        return worst
    }
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// "12.345678901 s"
func formatSeconds(_ n: UInt64) -> String {
    var frac = String(n % 1_000_000_000)
    while frac.count < 9 { frac = "0" + frac }
    return "\(n / 1_000_000_000).\(frac) s"
}

func formatSignedSeconds(_ n: Int64) -> String {
    (n < 0 ? "-" : "+") + formatSeconds(n.magnitude)
}
