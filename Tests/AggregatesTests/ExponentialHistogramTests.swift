import DevSupport
import Foundation
import Testing
@testable import Aggregates

@Suite struct ExponentialHistogramTests {
    @Test(arguments: ExponentialHistogram.scaleRange)
    func powersOfTwoFallInThePreviousOctavesLastBucket(scale: Int) {
        let h = ExponentialHistogram(scale: scale)
        for k in 1..<63 {
            let expected = scale > 0 ? (k << scale) - 1 : (k - 1) >> -scale
            #expect(h.index(of: UInt64(1) << k) == expected, "2^\(k) at scale \(scale)")
        }
        #expect(h.index(of: 1) == (scale > 0 ? -1 : -1 >> -scale))
    }

    @Test(arguments: ExponentialHistogram.scaleRange)
    func everyValueLiesInsideItsBucket(scale: Int) {
        let h = ExponentialHistogram(scale: scale)
        var rng = SplitMix64(seed: UInt64(scale + 100))
        for _ in 0..<20_000 {
            let v = UInt64.random(in: 1...(UInt64(1) << UInt64.random(in: 1...60, using: &rng)), using: &rng)
            let i = h.index(of: v)
            let lo = h.lowerBound(ofBucket: i), hi = h.lowerBound(ofBucket: i + 1)
            // Bounds are computed in Double; allow one ulp of slack at the edges.
            #expect(Double(v) > lo.nextDown && Double(v) <= hi.nextUp, "\(v) -> \(i) at scale \(scale)")
        }
    }

    @Test func quantilesStayWithinTheRelativeError() {
        var rng = SplitMix64(seed: 7)
        for scale in [0, 2, 4, 6, 8] {
            var h = ExponentialHistogram(scale: scale)
            var values: [UInt64] = []
            for _ in 0..<5_000 {
                // Log-uniform latencies from 1 µs to 10 s.
                let v = UInt64(1000 * exp2(Double.random(in: 0...23.2, using: &rng)))
                values.append(v)
                h.record(v)
            }
            values.sort()
            for q in [0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0] {
                let rank = max(1, Int((q * Double(values.count)).rounded(.up)))
                let truth = Double(values[rank - 1])
                let est = h.quantile(q)!
                #expect(abs(est - truth) / truth <= h.relativeError * (1 + 1e-9),
                        "q=\(q) scale=\(scale) est=\(est) truth=\(truth)")
            }
        }
    }

    @Test func relativeErrorAtDefaultScaleIsAbout2Percent() {
        let e = ExponentialHistogram().relativeError
        #expect(e > 0.0218 && e < 0.0220)
    }

    @Test func mergeEqualsRecordingEverythingInOne() {
        var rng = SplitMix64(seed: 11)
        var all = ExponentialHistogram(), a = ExponentialHistogram(), b = ExponentialHistogram()
        for n in 0..<3_000 {
            let v = n % 17 == 0 ? 0 : UInt64.random(in: 1...50_000_000, using: &rng)
            all.record(v)
            if n % 3 == 0 { a.record(v) } else { b.record(v) }
        }
        var ab = a; ab.merge(b)
        var ba = b; ba.merge(a)
        #expect(ab == all)
        #expect(ba == all)
        #expect(ab.count == 3_000)
        #expect(ab.zeroCount == all.zeroCount && all.zeroCount > 0)
    }

    @Test func mergeAcrossScalesDownscalesToTheCoarser() {
        var rng = SplitMix64(seed: 5)
        var fine = ExponentialHistogram(scale: 6), coarse = ExponentialHistogram(scale: 2)
        var reference = ExponentialHistogram(scale: 2)
        for _ in 0..<2_000 {
            let v = UInt64.random(in: 1...1_000_000, using: &rng), w = UInt64.random(in: 1...1_000_000, using: &rng)
            fine.record(v); coarse.record(w)
            reference.record(v); reference.record(w)
        }
        var merged = fine
        merged.merge(coarse)
        #expect(merged.scale == 2)
        #expect(merged == reference)
        #expect(fine.downscaled(to: 2).count == fine.count)
    }

    @Test func partsRoundTripAndBadPartsAreRefused() throws {
        var h = ExponentialHistogram(scale: 3)
        for v: UInt64 in [0, 0, 5, 900, 1_000_000, 7] { h.record(v) }
        let back = try ExponentialHistogram(scale: h.scale, zeroCount: h.zeroCount, offset: h.offset - 1,
                                            counts: [0] + h.counts + [0, 0], sum: h.sum, min: h.min, max: h.max)
        #expect(back == h)
        #expect(throws: HistogramError.scaleOutOfRange(20)) {
            try ExponentialHistogram(scale: 20, zeroCount: 0, offset: 0, counts: [], sum: 0, min: nil, max: nil)
        }
        #expect(throws: HistogramError.countOverflow) {
            try ExponentialHistogram(scale: 0, zeroCount: 1, offset: 0, counts: [.max], sum: 0, min: 1, max: 1)
        }
    }

    /// Counts are 32-bit words until one needs more: counts past 2^32, carries, sums that wrap
    /// as UInt64 does, and buckets added on either side after the high words exist, all as a
    /// plain UInt64 count per bucket would have them.
    @Test func countsPastThirtyTwoBitsAreExact() {
        var rng = SplitMix64(seed: 32)
        for _ in 0..<200 {
            var h = ExponentialHistogram(scale: 2)
            var expected: [Int: UInt64] = [:]
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                let value = UInt64.random(in: 1...1 << 40, using: &rng)
                let n: UInt64 = switch Int.random(in: 0..<4, using: &rng) {
                case 0: UInt64(UInt32.max) - UInt64.random(in: 0...2, using: &rng)
                case 1: UInt64.random(in: 1...UInt64.max, using: &rng)
                default: UInt64.random(in: 1...3, using: &rng)
                }
                h.record(value, times: n)
                expected[h.index(of: value), default: 0] &+= n
            }
            var other = ExponentialHistogram(scale: 2)
            other.record(UInt64.random(in: 1...1 << 50, using: &rng), times: UInt64(UInt32.max) + 2)
            h.merge(other)
            expected[other.offset, default: 0] &+= UInt64(UInt32.max) + 2
            let first = expected.keys.min()!, last = expected.keys.max()!
            #expect(h.offset == first)
            #expect(h.counts == (first...last).map { expected[$0] ?? 0 })
            #expect(h.counts.indices.allSatisfy { h.count(atPosition: $0) == h.counts[$0] })
        }
    }

    @Test func emptyHistogramHasNoQuantile() {
        #expect(ExponentialHistogram().quantile(0.5) == nil)
        var h = ExponentialHistogram()
        h.record(0, times: 3)
        #expect(h.quantile(0.99) == 0)
    }
}

