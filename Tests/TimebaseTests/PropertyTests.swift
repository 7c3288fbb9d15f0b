import DevSupport
import Testing
import Timebase

/// One random clock history with everything the checks need to know about it.
struct RandomHistory {
    var seed: UInt64
    var clock: SyntheticClock
    var anchors: [ClockAnchor]           // the true anchors, monotonic order
    var given: [ClockAnchor]             // as a reader would hand them over
    var jumps: [(at: UInt64, suspend: Bool)]
    var corrupt: Int
    var duplicates: Int
    let options = TimebaseOptions()

    init(seed: UInt64) {
        self.seed = seed
        var rng = SplitMix64(seed: seed)
        let rho = options.slewRate
        func randomSlope() -> Double {
            if rng.chance(0.25) { return 0 }
            if rng.chance(0.15) { return rng.chance(0.5) ? rho : -rho }
            return Double.random(in: -rho...rho, using: &rng)
        }
        // A wall clock between 2020 and 2029, a boot up to ~3 hours old.
        let base = 1_600_000_000_000_000_000 + Int64.random(in: 0..<300_000_000_000_000_000, using: &rng)
        var clock = SyntheticClock(baseOffset: base, slope: randomSlope())
        let count = rng.chance(0.1) ? 1 : Int.random(in: 2...16, using: &rng)
        var times = [UInt64.random(in: 1_000_000_000...10_000_000_000_000, using: &rng)]
        for _ in 1..<count { times.append(times.last! + rng.logUniform(1e3, 1.2e11)) }
        let widths = times.map { _ in rng.logUniform(2, 2e6) }
        let u = widths.map { $0 - $0 / 2 + 1 }

        // The true history: slope changes anywhere, at most one step or suspend per
        // anchor interval, large enough to be told from slewing (the model's assumption).
        var jumps: [(at: UInt64, suspend: Bool)] = []
        for i in 0..<(count - 1) {
            let a = times[i], b = times[i + 1]
            var changes: [(UInt64, Int64, UInt64)] = []   // (time, jump, suspended)
            if rng.chance(0.5) && b - a > 1 { changes.append((UInt64.random(in: (a + 1)..<b, using: &rng), 0, 0)) }
            let span = Double(b - a)
            if rng.chance(0.18) {
                let at = UInt64.random(in: (a + 1)...b, using: &rng)
                if rng.chance(0.35) {
                    let slept = 2 * (u[i] + u[i + 1]) + widths[i] + 4 + rng.logUniform(1, 8.64e13)
                    changes.append((at, Int64(slept), slept))
                    jumps.append((at, true))
                } else {
                    let least = 2 * UInt64((rho * span).rounded(.up)) + 2 * (u[i] + u[i + 1]) + 4
                    let size = Int64(least + rng.logUniform(1, 7.2e12))
                    changes.append((at, rng.chance(0.5) ? size : -size, 0))
                    jumps.append((at, false))
                }
            }
            changes.sort { $0.0 < $1.0 }
            var previous: UInt64 = 0
            for (t, jump, slept) in changes where t != previous {
                clock.change(at: t, slope: randomSlope(), jump: jump, suspended: slept)
                previous = t
            }
        }
        if rng.chance(0.3) {
            let t = times.last! + UInt64.random(in: 1...options.maxExtrapolationNanos, using: &rng)
            clock.change(at: t, slope: randomSlope())
        }
        var anchors: [ClockAnchor] = []
        for (t, w) in zip(times, widths) { anchors.append(clock.anchor(at: t, width: w, using: &rng)) }
        self.clock = clock
        self.jumps = jumps
        self.anchors = anchors

        // What a reader hands over: repeats, weaker copies, corrupt records, disorder.
        var given = anchors
        var duplicates = 0, corrupt = 0
        if rng.chance(0.3) {
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                given.append(anchors.randomElement(using: &rng)!)
                duplicates += 1
            }
        }
        if rng.chance(0.2) {
            var weaker = anchors.randomElement(using: &rng)!
            let extra = rng.logUniform(1, 1e6)
            weaker.uncertaintyNanos += extra
            weaker.realtimeNanos += Int64.random(in: -Int64(extra)...Int64(extra), using: &rng)
            given.append(weaker)
            duplicates += 1
        }
        if rng.chance(0.3) {
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                var bad = anchors.randomElement(using: &rng)!
                switch Int.random(in: 0..<6, using: &rng) {
                case 0: bad.monotonicNanos = 0
                case 1: bad.boottimeNanos = bad.monotonicNanos - 1
                case 2: bad.uncertaintyNanos = options.maxAnchorUncertaintyNanos + 1 + rng.logUniform(1, 1e12)
                case 3: bad.samples = 0
                case 4: bad.reasonCode = rng.chance(0.5) ? 0 : 99
                default: bad.realtimeNanos = -Int64(rng.logUniform(1, 1e18))
                }
                given.append(bad)
                corrupt += 1
            }
        }
        if rng.chance(0.5) { given.shuffle(using: &rng) }
        self.given = given
        self.duplicates = duplicates
        self.corrupt = corrupt
    }

    /// Monotonic times to check: random ones over the whole coverage, and the edges that
    /// matter (each anchor and each jump, ±1 ns).
    func probeTimes(_ rng: inout SplitMix64) -> [UInt64] {
        let e = options.maxExtrapolationNanos
        let first = anchors.first!.monotonicNanos, last = anchors.last!.monotonicNanos
        let lo = first > e ? first - e : 0, hi = last + e
        var ts = (0..<24).map { _ in UInt64.random(in: lo...hi, using: &rng) }
        for a in anchors {
            ts += [a.monotonicNanos - 1, a.monotonicNanos, a.monotonicNanos + 1]
        }
        for j in jumps { ts += [j.at - 1, j.at, j.at + 1] }
        ts += [lo, hi]
        return ts.filter { $0 >= lo && $0 <= hi }.sorted()
    }
}

@Suite("Timebase properties over random clock histories")
struct PropertyTests {
    @Test("10,000 random histories: monotone output, |error| ≤ reported bound, anchors sorted out, boots kept apart")
    func randomHistories() {
        let histories = 10_000
        var checked = 0
        var worstRatio = 0.0
        var failures: [String] = []
        var stepsSeen = 0, suspendsSeen = 0
        var previous: RandomHistory?
        for seed in 0..<UInt64(histories) {
            let h = RandomHistory(seed: seed)
            let timeline = Timeline(bootID: BootID("b"), anchors: h.given, options: h.options)
            // The same host rebooted: the previous history is its earlier boot. Its anchors
            // overlap this boot's monotonic range and must change nothing.
            let host = HostTimebase(anchorsByBoot: [BootID("a"): previous?.given ?? [], BootID("b"): h.given],
                                    options: h.options)
            defer { previous = h }
            func fail(_ s: String) { if failures.count < 10 { failures.append("seed \(seed): \(s)") } }

            // The anchor bookkeeping: every true anchor kept, every bad one rejected.
            if timeline.accepted.count != h.anchors.count {
                fail("accepted \(timeline.accepted.count) of \(h.anchors.count)")
            }
            let rejected = timeline.dispositions.filter { if case .rejected = $0.disposition { true } else { false } }
            if rejected.count != h.corrupt { fail("rejected \(rejected.count), corrupted \(h.corrupt)") }
            let duplicates = timeline.dispositions.filter { if case .duplicate = $0.disposition { true } else { false } }
            if duplicates.count != h.duplicates { fail("duplicates \(duplicates.count), made \(h.duplicates)") }
            let kinds = timeline.discontinuities.map { if case .suspend = $0.kind { true } else { false } }
            if kinds != h.jumps.map(\.suspend) { fail("discontinuities \(kinds) != truth \(h.jumps.map(\.suspend))") }
            stepsSeen += kinds.filter { !$0 }.count
            suspendsSeen += kinds.filter { $0 }.count

            var rng = SplitMix64(seed: ~seed)
            var cursor = timeline.makeCursor()
            var previous = Int64.min
            for (k, t) in h.probeTimes(&rng).enumerated() {
                guard case .success(let c) = cursor.correct(monotonicNanos: t) else {
                    fail("t=\(t) did not correct"); continue
                }
                if k % 5 == 0, case .success(let direct) = timeline.correct(monotonicNanos: t), direct != c {
                    fail("cursor and direct lookup differ at t=\(t)")
                }
                if k % 5 == 1, host.correct(monotonicNanos: t, bootID: BootID("b")) != .success(c) {
                    fail("another boot's anchors changed this boot's mapping at t=\(t)")
                }
                if c.utcNanos < previous { fail("not monotone at t=\(t): \(c.utcNanos) < \(previous)") }
                previous = c.utcNanos
                let error = (c.utcNanos - h.clock.realtime(t)).magnitude
                if error > c.uncertaintyNanos {
                    fail("t=\(t): error \(error) > bound \(c.uncertaintyNanos)")
                }
                if c.uncertaintyNanos > 0 {
                    worstRatio = max(worstRatio, Double(error) / Double(c.uncertaintyNanos))
                }
                checked += 1
            }
            // Just past the extrapolation limit nothing corrects.
            let last = h.anchors.last!.monotonicNanos
            if case .success = timeline.correct(monotonicNanos: last + h.options.maxExtrapolationNanos + 1) {
                fail("corrected past the extrapolation limit")
            }
        }
        print("property: \(histories) histories, \(checked) times checked, \(stepsSeen) steps, "
            + "\(suspendsSeen) suspends, worst error/bound \(worstRatio)")
        #expect(failures.isEmpty, "\(failures)")
        #expect(checked > histories * 20)
        #expect(stepsSeen > 1_000 && suspendsSeen > 500)
    }
}
