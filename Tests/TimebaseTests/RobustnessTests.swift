#if canImport(Glibc)
import DevSupport
import Glibc
#endif
import CRedlineABI
import Testing
@testable import Timebase

@Suite("Bad input never traps")
struct RobustnessTests {
    /// A value from the edges of a field's range as often as from its middle.
    private static func edgy(_ rng: inout SplitMix64, _ edges: [UInt64]) -> UInt64 {
        rng.chance(0.5) ? edges.randomElement(using: &rng)! : rng.next() >> UInt64.random(in: 0...63, using: &rng)
    }

    @Test("3,000 sets of arbitrary anchor records and options: builds, reports, corrects monotonically")
    func arbitraryRecords() {
        var rng = SplitMix64(seed: 2026)
        var corrected = 0
        for _ in 0..<3_000 {
            let edges: [UInt64] = [0, 1, 1 << 62, (1 << 62) + 1, UInt64(Int64.max), UInt64.max, 4_000_000_000_000_000_000]
            let records = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                rl_clock_anchor(
                    realtime_ns: Int64(bitPattern: Self.edgy(&rng, edges)),
                    monotonic_ns: Self.edgy(&rng, edges), boottime_ns: Self.edgy(&rng, edges),
                    uncertainty_ns: Self.edgy(&rng, edges + [100_000_000]),
                    samples: UInt32(truncatingIfNeeded: Self.edgy(&rng, [0, 7])),
                    reason: UInt32(truncatingIfNeeded: Self.edgy(&rng, [0, 1, 2, 3, 4, 5])))
            }
            let options = TimebaseOptions(
                maxSlewPPM: UInt32(truncatingIfNeeded: Self.edgy(&rng, [0, 500, 1_000_000, UInt64(UInt32.max)])),
                maxExtrapolationNanos: Self.edgy(&rng, [0, 600_000_000_000, UInt64.max]),
                maxAnchorUncertaintyNanos: Self.edgy(&rng, [0, 100_000_000, UInt64.max]))
            let report = TimeReport(bootID: BootID("x"), records: records, options: options)
            _ = report.render()
            let timeline = Timeline(bootID: BootID("x"), anchors: records.map(ClockAnchor.init), options: options)
            var times = (0..<16).map { _ in Self.edgy(&rng, edges) }
            for (_, a) in timeline.accepted { times += [a.monotonicNanos &- 1, a.monotonicNanos, a.monotonicNanos &+ 1] }
            times.sort()
            var cursor = timeline.makeCursor()
            var previous = Int64.min
            for t in times {
                if case .success(let c) = cursor.correct(monotonicNanos: t) {
                    #expect(c.utcNanos >= previous)
                    previous = c.utcNanos
                    corrected += 1
                }
            }
        }
        #expect(corrected > 1_000)
    }

    @Test("formatUTC agrees with gmtime_r from 1900 to 2200")
    func utcFormatting() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<20_000 {
            let ns = Int64.random(in: -2_208_988_800_000_000_000...7_258_118_400_000_000_000, using: &rng)
            var secs = time_t(ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000)
            var tm = tm()
            gmtime_r(&secs, &tm)
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let prefix = "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T"
                + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))."
            let formatted = formatUTC(ns)
            #expect(formatted.hasPrefix(prefix), "\(ns): \(formatted) vs \(prefix)")
        }
    }
}

@Suite("Large and hostile anchor sets stay cheap")
struct ScaleTests {
    @Test("100,000 anchors at one instant that disagree, and 20,000 alternating steps: built and reported")
    func hostileSets() {
        let base = ClockAnchor(realtimeNanos: 1_764_000_000_000_000_000, monotonicNanos: 5_000_000_000,
                               boottimeNanos: 5_000_000_000, uncertaintyNanos: 10, samples: 7, reason: .periodic)
        var same = [ClockAnchor](repeating: base, count: 100_000)
        same[77_777].realtimeNanos += 1_000
        let conflicted = Timeline(bootID: BootID("x"), anchors: same)
        #expect(conflicted.accepted.isEmpty)
        #expect(conflicted.dispositions.allSatisfy { if case .rejected(.conflictsWith) = $0.disposition { true } else { false } })

        let zigzag = (0..<20_000).map { i in
            var a = base
            a.monotonicNanos += UInt64(i) * 1_000_000_000
            a.boottimeNanos = a.monotonicNanos
            a.realtimeNanos += Int64(i) * 1_000_000_000 + (i % 2 == 0 ? 0 : 5_000_000_000)
            return a
        }
        let report = TimeReport(timeline: Timeline(bootID: BootID("x"), anchors: zigzag))
        #expect(report.steps.count == 19_999)
        #expect(report.render().split(separator: "\n").count > 20_000)
    }
}
