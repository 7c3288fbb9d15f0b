#if canImport(Glibc)
import Glibc
#endif
import Testing
import RedlineBase
import Timebase

private func now(_ clock: clockid_t) -> Int64 {
    var ts = timespec()
    precondition(clock_gettime(clock, &ts) == 0)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

@Suite("AnchorSampler on this machine's clocks")
struct SamplerTests {
    @Test("1,000 real best-of-7 anchors: valid, bracketed by outside reads; uncertainty median and max printed")
    func realSampler() throws {
        let sampler = AnchorSampler()
        var anchors: [ClockAnchor] = []
        for _ in 0..<1_000 {
            let realBefore = now(CLOCK_REALTIME), monoBefore = now(CLOCK_MONOTONIC)
            let a = try sampler.sample(reason: .periodic)
            let monoAfter = now(CLOCK_MONOTONIC), realAfter = now(CLOCK_REALTIME)
            #expect(a.validate() == nil)
            #expect(a.samples == 7)
            #expect(a.uncertaintyNanos > 0)
            #expect(a.realtimeNanos >= realBefore && a.realtimeNanos <= realAfter)
            #expect(a.monotonicNanos >= UInt64(monoBefore) && a.monotonicNanos <= UInt64(monoAfter))
            #expect(a.boottimeNanos >= a.monotonicNanos)
            anchors.append(a)
        }
        let us = anchors.map(\.uncertaintyNanos).sorted()
        let median = us[us.count / 2], p99 = us[us.count * 99 / 100], worst = us[us.count - 1]
        print("real sampler, 1000 anchors of best-of-7: uncertainty min \(us[0]) ns, median \(median) ns, "
            + "p99 \(p99) ns, max \(worst) ns")
        // A vDSO clock read takes tens of ns; half a sandwich of three of them is far
        // below a millisecond unless something is badly wrong.
        #expect(median < 1_000_000)

        // The anchors as a timeline: a fresh reading maps back onto itself within both bounds.
        let timeline = Timeline(bootID: BootID(label: "this-boot"), anchors: anchors)
        #expect(timeline.accepted.count == anchors.count)
        let probe = try sampler.sample(reason: .seal)
        guard case .success(let c) = timeline.correct(monotonicNanos: probe.monotonicNanos) else {
            Issue.record("fresh reading did not correct")
            return
        }
        #expect((c.utcNanos - probe.realtimeNanos).magnitude <= c.uncertaintyNanos + probe.uncertaintyNanos)
    }

    @Test("offsetMoved: quiet for the anchor just taken, fires for an anchor 10 s off")
    func offsetMoved() throws {
        let sampler = AnchorSampler()
        let anchor = try sampler.sample(reason: .start)
        #expect(try !sampler.offsetMoved(since: anchor, thresholdNanos: 1_000_000_000))
        var shifted = anchor
        shifted.realtimeNanos += 10_000_000_000
        #expect(try sampler.offsetMoved(since: shifted, thresholdNanos: 1_000_000_000))
    }
}
