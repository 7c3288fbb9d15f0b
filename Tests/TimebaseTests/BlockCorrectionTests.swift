import DevSupport
import RedlineBase
import Testing
import Timebase

/// `Timeline.Cursor.blockCorrection`: where it gives one offset for a block, every time of the
/// block corrects to exactly what per-time correction gives, and the largest uncertainty of any
/// interval of the block's times comes out of two of them, as per-time correction's maximum.
@Suite struct BlockCorrectionTests {
    /// Anchors in the collector's shape (periodic, one REALTIME − MONOTONIC offset most of the
    /// time) with random widths, drift between some pairs, steps and suspend gaps.
    static func anchors(_ rng: inout SplitMix64) -> [ClockAnchor] {
        var offset = 1_764_000_000_000_000_000 + Int64.random(in: 0..<1_000_000_000_000, using: &rng)
        var suspended: UInt64 = 0
        var mono = UInt64.random(in: 1_000_000_000...1_000_000_000_000, using: &rng)
        var out: [ClockAnchor] = []
        for _ in 0..<Int.random(in: 1...24, using: &rng) {
            let u = rng.chance(0.5) ? UInt64.random(in: 1...2_000, using: &rng) : UInt64.random(in: 1...2_000_000, using: &rng)
            out.append(ClockAnchor(realtimeNanos: Int64(mono) + offset, monotonicNanos: mono, boottimeNanos: mono + suspended,
                                   uncertaintyNanos: u, samples: 7, reason: .periodic))
            mono += rng.chance(0.8) ? 10_000_000_000 : UInt64.random(in: 1...200_000_000_000, using: &rng)
            if rng.chance(0.15) { offset += Int64.random(in: -3...3, using: &rng) }              // drift
            if rng.chance(0.08) { offset += Int64.random(in: -5_000_000_000...5_000_000_000, using: &rng) }  // step
            if rng.chance(0.08) {                                                                 // suspend
                let slept = UInt64.random(in: 10_000_000...100_000_000_000, using: &rng)
                suspended += slept
                offset += Int64(slept)
            }
        }
        return out
    }

    @Test func blockCorrectionEqualsPerTimeCorrection() {
        var rng = SplitMix64(seed: 15)
        var given = 0, refused = 0
        for _ in 0..<300 {
            let anchors = Self.anchors(&rng)
            let timeline = Timeline(bootID: BootID(bytes: [UInt8](repeating: 7, count: 16)), anchors: anchors)
            guard let cover = timeline.coverage else { continue }
            var cursor = timeline.makeCursor()
            for _ in 0..<60 {
                // Blocks of a few ms to a minute anywhere in coverage, so many straddle a piece
                // boundary or an end of coverage; some start exactly on an anchor.
                let span = rng.chance(0.5) ? UInt64.random(in: 0...5_000_000, using: &rng)
                                           : UInt64.random(in: 0...60_000_000_000, using: &rng)
                var first = UInt64.random(in: cover.lowerBound...cover.upperBound, using: &rng)
                if rng.chance(0.1) { first = anchors.randomElement(using: &rng)!.monotonicNanos }
                let last = first + span
                var times = (0..<Int.random(in: 1...200, using: &rng)).map { _ in UInt64.random(in: first...last, using: &rng) }
                times += [first, last]
                guard let block = cursor.blockCorrection(first: first, last: last) else {
                    refused += 1
                    continue
                }
                given += 1
                var expected: [(t: UInt64, uncertainty: UInt64)] = []
                for t in times {
                    guard case .success(let c) = timeline.correct(monotonicNanos: t) else {
                        Issue.record("t=\(t) has a block correction but no per-time correction")
                        continue
                    }
                    #expect(c.utcNanos == Int64(t) + block.offsetNanos, "t=\(t)")
                    expected.append((t, c.uncertaintyNanos))
                }
                // Any interval of the block's times (the records a partition keeps).
                let cut = [UInt64.random(in: first...last, using: &rng), UInt64.random(in: first...last, using: &rng)].sorted()
                let kept = rng.chance(0.3) ? expected : expected.filter { $0.t >= cut[0] && $0.t <= cut[1] }
                let below = kept.filter { $0.t <= block.peakNanos }.map(\.t).max()
                let above = kept.filter { $0.t > block.peakNanos }.map(\.t).min()
                #expect(block.maxUncertaintyNanos(highestAtOrBelowPeak: below, lowestAbovePeak: above)
                        == (kept.map(\.uncertainty).max() ?? 0))
            }
        }
        // Both outcomes occur often enough for the comparison to mean something.
        #expect(given > 3_000, "block corrections given: \(given)")
        #expect(refused > 1_000, "block corrections refused: \(refused)")
    }

    /// A block inside one interpolation piece with equal offsets, whose bound peaks between
    /// its ends: the peak is found, not assumed at an end.
    @Test func uncertaintyPeaksInsideTheBlock() throws {
        let anchors = [0, 1].map { k in
            ClockAnchor(realtimeNanos: 1_000_000_000_000 + Int64(k) * 10_000_000_000 + 5_000, monotonicNanos: 1_000_000_000 + UInt64(k) * 10_000_000_000,
                        boottimeNanos: 1_000_000_000 + UInt64(k) * 10_000_000_000, uncertaintyNanos: 1_000, samples: 7, reason: .periodic)
        }
        let timeline = Timeline(bootID: BootID(bytes: [UInt8](repeating: 1, count: 16)), anchors: anchors)
        var cursor = timeline.makeCursor()
        let first: UInt64 = 1_000_000_001, last: UInt64 = 10_999_999_999
        let given = cursor.blockCorrection(first: first, last: last)
        let block = try #require(given)
        #expect(block.peakNanos > first && block.peakNanos < last)
        let mid = block.peakNanos
        guard case .success(let atPeak) = timeline.correct(monotonicNanos: mid),
              case .success(let atFirst) = timeline.correct(monotonicNanos: first),
              case .success(let atLast) = timeline.correct(monotonicNanos: last) else {
            Issue.record("no correction")
            return
        }
        #expect(atPeak.uncertaintyNanos > max(atFirst.uncertaintyNanos, atLast.uncertaintyNanos))
        #expect(block.maxUncertaintyNanos(highestAtOrBelowPeak: mid, lowestAbovePeak: last) == atPeak.uncertaintyNanos)
    }
}
