import CRedlineABI
import DevSupport
import Testing
import Timebase

private let second: UInt64 = 1_000_000_000
private let wallBase: Int64 = 1_764_000_000_000_000_000   // 2025-11-24, REALTIME − MONOTONIC

/// Anchors every `every` ns from `from`, `count` of them, sandwich width `width` ns.
private func anchors(_ clock: SyntheticClock, from: UInt64, every: UInt64, count: Int, width: UInt64,
                     seed: UInt64 = 1) -> [ClockAnchor] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { clock.anchor(at: from + UInt64($0) * every, width: width, using: &rng) }
}

/// Corrects `times` (sorted) and checks the two guarantees; returns the largest error and
/// the largest bound seen.
@discardableResult
private func check(_ timeline: Timeline, _ clock: SyntheticClock, _ times: [UInt64],
                   sourceLocation: SourceLocation = #_sourceLocation) -> (error: UInt64, bound: UInt64) {
    var previous = Int64.min
    var worst: (UInt64, UInt64) = (0, 0)
    for t in times {
        guard case .success(let c) = timeline.correct(monotonicNanos: t) else {
            Issue.record("t=\(t) did not correct", sourceLocation: sourceLocation)
            continue
        }
        let error = (c.utcNanos - clock.realtime(t)).magnitude
        #expect(c.utcNanos >= previous, "not monotone at t=\(t)", sourceLocation: sourceLocation)
        #expect(error <= c.uncertaintyNanos, "t=\(t): error \(error) > bound \(c.uncertaintyNanos)",
                sourceLocation: sourceLocation)
        previous = c.utcNanos
        worst = (max(worst.0, error), max(worst.1, c.uncertaintyNanos))
    }
    return worst
}

/// `count` times evenly over [a, b], both ends included.
private func grid(_ a: UInt64, _ b: UInt64, _ count: Int) -> [UInt64] {
    (0..<count).map { a + (b - a) / UInt64(count - 1) * UInt64($0) }
}

private func utc(_ r: Result<CorrectedTime, TimeCorrectionError>) -> CorrectedTime? {
    if case .success(let c) = r { return c }
    return nil
}

@Suite("Timeline on synthetic clocks with known truth")
struct TimelineTests {
    let start: UInt64 = 5_000 * second

    @Test("constant offset: exact at the anchors, bound grows with the slew allowance between them")
    func constantOffset() throws {
        let clock = SyntheticClock(baseOffset: wallBase)
        let given = anchors(clock, from: start, every: 10 * second, count: 31, width: 2_000)
        let timeline = Timeline(bootID: BootID("b"), anchors: given)
        #expect(timeline.discontinuities.isEmpty)
        let (error, _) = check(timeline, clock, grid(start - 60 * second, start + 360 * second, 5_001))
        #expect(error <= 1_001)   // never worse than one anchor's uncertainty
        let atAnchor = try #require(utc(timeline.correct(monotonicNanos: start + 50 * second)))
        #expect(atAnchor.uncertaintyNanos == 1_002)   // u + 1 ns truncation
        // Halfway between anchors 5 s from each: u + 500 ppm × 5 s + 1.
        let midway = try #require(utc(timeline.correct(monotonicNanos: start + 55 * second)))
        #expect(midway.uncertaintyNanos >= 2_500_000 && midway.uncertaintyNanos <= 2_504_000)
    }

    @Test("slew of ±500 ppm is followed: error stays at anchor precision, not 500 ppm × distance",
          arguments: [500.0, -500.0])
    func slewAtLimit(ppm: Double) {
        let clock = SyntheticClock(baseOffset: wallBase, slope: ppm * 1e-6)
        let given = anchors(clock, from: start, every: 10 * second, count: 31, width: 2_000)
        let timeline = Timeline(bootID: BootID("b"), anchors: given)
        #expect(timeline.discontinuities.isEmpty)
        let (error, bound) = check(timeline, clock, grid(start, start + 300 * second, 3_001))
        // A fixed offset would be off by up to 2.5 ms mid-interval; interpolation is not.
        #expect(error <= 2_010)
        // At the slew limit the two anchors' cones pin the offset down.
        #expect(bound <= 4_010)
    }

    @Test("steps of ±1 s and ±1 h: detected, rule applied, monotone, bounded, contained",
          arguments: [1_000_000_000, -1_000_000_000, 3_600_000_000_000, -3_600_000_000_000] as [Int64])
    func step(size: Int64) throws {
        var clock = SyntheticClock(baseOffset: wallBase)
        let stepAt = start + 1_800 * second + 3_300_000_000    // between anchors 180 and 181
        clock.change(at: stepAt, slope: 0, jump: size)
        let given = anchors(clock, from: start, every: 10 * second, count: 721, width: 2_000)
        let timeline = Timeline(bootID: BootID("b"), anchors: given)

        #expect(timeline.discontinuities.count == 1)
        let d = try #require(timeline.discontinuities.first)
        #expect(d.kind == .step)
        #expect(d.beforeFileIndex == 180 && d.afterFileIndex == 181)
        #expect((d.offsetChangeNanos - size).magnitude <= 2_004)
        #expect(d.windowNanos == 10 * second)

        var probes = grid(start, start + 7_200 * second, 7_201)
        probes += [stepAt - 1, stepAt, stepAt + 1, d.before.monotonicNanos + 1, d.after.monotonicNanos - 1]
        check(timeline, clock, probes.sorted())

        let inside = d.before.monotonicNanos + 4 * second
        let c = try #require(utc(timeline.correct(monotonicNanos: inside)))
        if size > 0 {
            // Forward: inside the window, the mean of the two anchors' offsets.
            let mean = d.before.offsetNanos + (d.after.offsetNanos - d.before.offsetNanos) / 2
            #expect(c.utcNanos == Int64(inside) + mean)
            #expect(c.uncertaintyNanos >= size.magnitude / 2)
        } else {
            // Backward: time may not run back, so the output holds still until the
            // clock catches up; it never goes below what earlier times got.
            let atA = try #require(utc(timeline.correct(monotonicNanos: d.before.monotonicNanos)))
            #expect(c.utcNanos >= atA.utcNanos)
            if size.magnitude > 20 * second {
                let later = try #require(utc(timeline.correct(monotonicNanos: d.after.monotonicNanos + 60 * second)))
                #expect(later.utcNanos == atA.utcNanos)   // still clamped
                #expect(later.uncertaintyNanos >= UInt64(size.magnitude) - 61 * second - 10 * second)
            }
        }
        // Once past the window (and for a backward step the catch-up), bounds are back to
        // the slew allowance of ordinary anchors.
        let after = d.before.monotonicNanos + size.magnitude + 20 * second
        let back = try #require(utc(timeline.correct(monotonicNanos: after)))
        #expect(back.uncertaintyNanos <= 2_510_000)
    }

    @Test("reboot: each boot id has its own mapping; unknown boots and empty boots fail")
    func reboot() throws {
        let first = SyntheticClock(baseOffset: wallBase)
        let second = SyntheticClock(baseOffset: wallBase + 7_200 * 1_000_000_000)  // booted 2 h later
        let host = HostTimebase(anchorsByBoot: [
            BootID("boot-1"): anchors(first, from: start, every: 10 * 1_000_000_000, count: 10, width: 500),
            BootID("boot-2"): anchors(second, from: start, every: 10 * 1_000_000_000, count: 10, width: 500),
            BootID("boot-3"): [ClockAnchor(realtimeNanos: 0, monotonicNanos: 1, boottimeNanos: 1,
                                           uncertaintyNanos: 1, samples: 1, reason: .start)],
        ])
        let t = start + 42 * 1_000_000_000
        let one = try #require(utc(host.correct(monotonicNanos: t, bootID: BootID("boot-1"))))
        let two = try #require(utc(host.correct(monotonicNanos: t, bootID: BootID("boot-2"))))
        #expect((one.utcNanos - first.realtime(t)).magnitude <= one.uncertaintyNanos)
        #expect((two.utcNanos - second.realtime(t)).magnitude <= two.uncertaintyNanos)
        #expect(two.utcNanos - one.utcNanos > 7_199 * 1_000_000_000)
        #expect(host.correct(monotonicNanos: t, bootID: BootID("boot-9")) == .failure(.unknownBoot(BootID("boot-9"))))
        #expect(host.correct(monotonicNanos: t, bootID: BootID("boot-3")) == .failure(.noValidAnchors(BootID("boot-3"))))
    }

    @Test("sparse anchors: honest wide bounds between them; extrapolation limited on both sides")
    func sparseAnchors() throws {
        var clock = SyntheticClock(baseOffset: wallBase, slope: 300e-6)
        clock.change(at: start + 5_000 * second, slope: -400e-6)
        let given = anchors(clock, from: start, every: 3_600 * second, count: 3, width: 10_000)
        let timeline = Timeline(bootID: BootID("b"), anchors: given)
        #expect(timeline.discontinuities.isEmpty)
        let e = TimebaseOptions().maxExtrapolationNanos
        let first = start, last = start + 7_200 * second
        let (_, bound) = check(timeline, clock, grid(first - e, last + e, 20_001))
        // Half an hour from the nearest anchor at 500 ppm: about 0.9 s.
        #expect(bound >= 300_000_000 && bound <= 900_010_001)
        let edge = try #require(utc(timeline.correct(monotonicNanos: last + e)))
        #expect(edge.uncertaintyNanos == 5_001 + 300_000_000 + 1)
        #expect(timeline.correct(monotonicNanos: last + e + 1)
            == .failure(.afterLastAnchor(byNanos: e + 1, limitNanos: e)))
        #expect(timeline.correct(monotonicNanos: first - e - 1)
            == .failure(.beforeFirstAnchor(byNanos: e + 1, limitNanos: e)))
        #expect(timeline.coverage == (first - e)...(last + e))
    }

    @Test("one anchor: extrapolation only")
    func singleAnchor() throws {
        let clock = SyntheticClock(baseOffset: wallBase)
        let timeline = Timeline(bootID: BootID("b"), anchors: anchors(clock, from: start, every: 1, count: 1, width: 100))
        check(timeline, clock, grid(start - 600 * second, start + 600 * second, 1_001))
    }

    @Test("suspend: BOOTTIME growth is a discontinuity of kind suspend, not smeared")
    func suspend() throws {
        var clock = SyntheticClock(baseOffset: wallBase)
        let sleepAt = start + 73 * second
        clock.change(at: sleepAt, slope: 0, jump: 90_000_000_000, suspended: 90_000_000_000)
        let given = anchors(clock, from: start, every: 10 * second, count: 20, width: 1_000)
        let timeline = Timeline(bootID: BootID("b"), anchors: given)
        #expect(timeline.discontinuities.count == 1)
        let d = try #require(timeline.discontinuities.first)
        guard case .suspend(let slept) = d.kind else {
            Issue.record("expected a suspend, got \(d.kind)")
            return
        }
        #expect((Int64(slept) - 90_000_000_000).magnitude <= 1_000)
        #expect(d.before.monotonicNanos == start + 70 * second)
        check(timeline, clock, (grid(start, start + 190 * second, 1_901) + [sleepAt - 1, sleepAt]).sorted())
        // Outside the window the suspend leaves no trace in the bound.
        let later = try #require(utc(timeline.correct(monotonicNanos: start + 120 * second)))
        #expect(later.uncertaintyNanos <= 502)
    }

    @Test("duplicated, out-of-order and corrupt anchors: dropped or rejected with the right reason")
    func anchorTriage() throws {
        let clock = SyntheticClock(baseOffset: wallBase)
        let clean = anchors(clock, from: start, every: 10 * second, count: 5, width: 1_000)
        var rng = SplitMix64(seed: 99)
        var weaker = clean[2]
        weaker.uncertaintyNanos += 300
        weaker.realtimeNanos += 200
        var conflictA = clock.anchor(at: start + 45 * second, width: 1_000, using: &rng)
        var conflictB = conflictA
        conflictB.realtimeNanos += 5_000
        conflictA.reasonCode = AnchorReason.step.rawValue
        var zeroMono = clean[0]; zeroMono.monotonicNanos = 0
        var bootBefore = clean[1]; bootBefore.boottimeNanos = bootBefore.monotonicNanos - 5
        var wide = clean[1]; wide.uncertaintyNanos = 200_000_000
        var noSamples = clean[3]; noSamples.samples = 0
        var badReason = clean[3]; badReason.reasonCode = 0
        var negative = clean[4]; negative.realtimeNanos = -1
        var future = clean[4]; future.realtimeNanos = ClockAnchor.maxRealtimeNanos + 1
        var huge = clean[4]; huge.monotonicNanos = 1 << 63; huge.boottimeNanos = 1 << 63
        var slept = clean[4]; slept.monotonicNanos += 1_000; slept.realtimeNanos += 1_000
        slept.boottimeNanos = slept.monotonicNanos + 10 * second   // suspended 10 s …
        var afterSlept = slept; afterSlept.monotonicNanos += second; afterSlept.realtimeNanos += Int64(second)
        afterSlept.boottimeNanos = afterSlept.monotonicNanos + 1 * second   // … then "less"

        // File order: clean anchors reversed, then the rest.
        let given: [ClockAnchor] = clean.reversed() + [
            clean[1], weaker, conflictA, conflictB, zeroMono, bootBefore, wide, noSamples,
            badReason, negative, future, huge, slept, afterSlept,
        ]
        let timeline = Timeline(bootID: BootID("b"), anchors: given)
        let d = timeline.dispositions.map(\.disposition)
        #expect(d[0...4].allSatisfy { $0 == .accepted })
        #expect(d[5] == .duplicate(of: 3))              // clean[1] is file #3
        #expect(d[6] == .duplicate(of: 2))              // clean[2] is file #2, tighter
        #expect(d[7] == .rejected(.conflictsWith(fileIndex: 8)))
        #expect(d[8] == .rejected(.conflictsWith(fileIndex: 7)))
        #expect(d[9] == .rejected(.monotonicZero))
        #expect(d[10] == .rejected(.boottimeBeforeMonotonic(boottime: bootBefore.boottimeNanos,
                                                            monotonic: bootBefore.monotonicNanos)))
        #expect(d[11] == .rejected(.uncertaintyTooLarge(200_000_000, limit: 100_000_000)))
        #expect(d[12] == .rejected(.noSamples))
        #expect(d[13] == .rejected(.unknownReason(0)))
        #expect(d[14] == .rejected(.realtimeNotPositive(-1)))
        #expect(d[15] == .rejected(.realtimeOutOfRange(ClockAnchor.maxRealtimeNanos + 1)))
        #expect(d[16] == .rejected(.monotonicOutOfRange(1 << 63)))
        #expect(d[17] == .accepted)
        #expect(d[18] == .rejected(.suspendTotalDecreased(byNanos: 9 * second, sinceFileIndex: 17)))
        #expect(timeline.outOfOrderCount > 0)
        #expect(timeline.accepted.map(\.fileIndex) == [4, 3, 2, 1, 0, 17])
        // The triage loses nothing: times before the suspend anchor map exactly as with
        // the clean anchors alone.
        let reference = Timeline(bootID: BootID("b"), anchors: clean)
        for t in grid(start, start + 40 * second, 401) {
            #expect(timeline.correct(monotonicNanos: t) == reference.correct(monotonicNanos: t))
        }
    }

    @Test("cursor and batch agree with direct lookups on unsorted input, failures included")
    func batchAndCursor() {
        var clock = SyntheticClock(baseOffset: wallBase, slope: 100e-6)
        clock.change(at: start + 55 * second, slope: -200e-6, jump: -2_000_000_000)
        let timeline = Timeline(bootID: BootID("b"), anchors: anchors(clock, from: start, every: 10 * second, count: 12, width: 800))
        var rng = SplitMix64(seed: 7)
        let times = (0..<5_000).map { _ in UInt64.random(in: (start - 700 * second)...(start + 800 * second), using: &rng) }
        let batch = timeline.correct(batch: times)
        #expect(batch == times.map { timeline.correct(monotonicNanos: $0) })
        #expect(batch.contains { if case .failure = $0 { true } else { false } })
        let sorted = times.sorted()
        #expect(timeline.correct(batch: sorted) == sorted.map { timeline.correct(monotonicNanos: $0) })
    }

    @Test("anchor record round trip and sandwich arithmetic")
    func anchorRecord() {
        let record = rl_clock_anchor(realtime_ns: 1_764_000_000_123_456_789, monotonic_ns: 42_000_000_000,
                                     boottime_ns: 43_000_000_000, uncertainty_ns: 37, samples: 7,
                                     reason: UInt32(RL_ANCHOR_SEAL.rawValue))
        let anchor = ClockAnchor(record)
        #expect(anchor.reason == .seal)
        #expect(anchor.offsetNanos == 1_764_000_000_123_456_789 - 42_000_000_000)
        #expect(anchor.suspendedNanos == 1_000_000_000)
        #expect(ClockAnchor(anchor.record) == anchor)
        #expect(anchor.validate() == nil)

        let sandwich = ClockAnchor(realtimeBefore: 100, monotonic: 10, boottime: 10, realtimeAfter: 107,
                                   samples: 1, reason: .start)
        #expect(sandwich?.realtimeNanos == 103)
        #expect(sandwich?.uncertaintyNanos == 5)     // ⌈7/2⌉ + 1
        #expect(ClockAnchor(realtimeBefore: 100, monotonic: 10, boottime: 10, realtimeAfter: 99,
                            samples: 1, reason: .start) == nil)
    }
}
