import Aggregates
@testable import Anomaly
import Pipeline
import Testing

/// Detectors and ranking on constructed table rows with known answers (the synthetic half of the
/// house's detector tests; ReplayTests is the lab half).
@Suite("Anomaly detectors and call-graph ranking on constructed rows")
struct RankingTests {
    static let partition = Partition(day: 20_000, hour: 10)
    static let minute: Int64 = 60_000_000_000
    /// Bucket `i` of the partition (negative: the hour before).
    static func bucket(_ i: Int) -> Int64 { partition.startNanos + Int64(i) * minute }

    static func latency(_ ms: Double, _ n: Int64) -> ExponentialHistogram {
        var h = ExponentialHistogram()
        h.record(UInt64(ms * 1e6), times: UInt64(n))
        return h
    }

    /// A fleet's rows over buckets `range`: loadgen → frontend → pricing (→ cache), frontend in
    /// dc1, pricing and cache in dc2. `shape(i)` says, per bucket, what each view sees.
    struct Shape {
        var requests: Int64 = 200
        var pricingMs = 1.0, edgeClientMs = 1.3, frontendMs = 2.0
        var pricingErrors: Int64 = 0, frontendErrors: Int64 = 0
        var retransmits: Int64 = 0
        var resets: Int64 = 0
        /// pricing is down: no rows of its own, none on the edges to and from it.
        var pricingStopped = false
    }

    static func fleet(_ range: Range<Int>, hosts: Bool = false, sameDC: Bool = false, _ shape: (Int) -> Shape) -> Observations {
        var o = Observations(bucketSeconds: 60)
        let pricingDC = sameDC ? "dc1" : "dc2"
        for i in range {
            let s = shape(i), b = bucket(i), n = s.requests
            if !s.pricingStopped {
                o.red.append(REDObservation(bucket: b, callee: "pricing", observer: "server", requests: n, errors: s.pricingErrors,
                                            latency: latency(s.pricingMs, n)))
                o.red.append(REDObservation(bucket: b, caller: "frontend", callee: "pricing", callerDC: "dc1", calleeDC: pricingDC,
                                            observer: "server", requests: n, errors: s.pricingErrors, latency: latency(s.pricingMs, n)))
                o.red.append(REDObservation(bucket: b, caller: "frontend", callee: "pricing", callerDC: "dc1", calleeDC: pricingDC,
                                            observer: "client", requests: n, errors: s.pricingErrors, latency: latency(s.edgeClientMs, n)))
                o.red.append(REDObservation(bucket: b, caller: "pricing", callee: "cache", callerDC: pricingDC, calleeDC: pricingDC,
                                            observer: "client", requests: n, errors: 0, latency: latency(0.3, n)))
            }
            o.red.append(REDObservation(bucket: b, callee: "frontend", observer: "server", requests: n, errors: s.frontendErrors,
                                        latency: latency(s.frontendMs, n)))
            o.red.append(REDObservation(bucket: b, caller: "loadgen", callee: "frontend", callerDC: "dc1", calleeDC: "dc1",
                                        observer: "client", requests: n, errors: s.frontendErrors, latency: latency(s.frontendMs + 0.2, n)))
            if !s.pricingStopped {
                // cache's only caller is pricing: it goes quiet when pricing stops.
                o.red.append(REDObservation(bucket: b, callee: "cache", observer: "server", requests: n, errors: 0, latency: latency(0.2, n)))
            }
            // Every path has a little TCP background (one retransmit a minute).
            o.tcp.append(TCPObservation(bucket: b, service: "frontend", peer: "pricing", retransmits: 1 + s.retransmits, resets: s.resets))
            if hosts {
                o.hostTCP.append(TCPObservation(bucket: b, service: "frontend", peer: "pricing", retransmits: 1 + s.retransmits,
                                                resets: s.resets, host: "h11"))
                o.hostRED.append(REDObservation(bucket: b, caller: "frontend", callee: "pricing", observer: "client", requests: n, errors: 0,
                                                latency: latency(s.edgeClientMs, n), host: "h11"))
                o.hostRED.append(REDObservation(bucket: b, caller: "frontend", callee: "pricing", observer: "server", requests: n, errors: 0,
                                                latency: latency(s.pricingMs, n), host: "h21"))
            }
        }
        return o
    }

    static func rank(_ o: Observations, detect: PipelineSpec.DetectParameters = PipelineSpec.DetectParameters(),
                     partition: Partition = partition) -> [Candidate] {
        Ranking(parameters: PipelineSpec.RankParameters()).rank(Detector(parameters: detect).findings(o), observations: o,
                                                                 partition: partition)
    }

    @Test("a slow callee ranks first and explains its caller's edge and the caller itself")
    func calleeExplainsCallers() {
        let o = Self.fleet(0..<40) { i in
            var s = Shape()
            if i >= 30 { s.pricingMs = 51; s.edgeClientMs = 51.3; s.frontendMs = 52 }
            return s
        }
        let c = Self.rank(o)
        #expect(c.first?.entity == Entity(.service, "pricing"))
        #expect(c.first?.depth == 0)
        #expect(c.first?.onset == Self.bucket(30))
        let edge = c.first { $0.entity == .edge("frontend", "pricing") }
        let frontend = c.first { $0.entity == Entity(.service, "frontend") }
        #expect(edge?.explainedBy == [Entity(.service, "pricing")])
        #expect(frontend?.explainedBy == [.edge("frontend", "pricing")])
        #expect(edge!.rank < frontend!.rank)
        #expect(!c.contains { $0.entity.kind == .host || $0.entity.kind == .dcLink })
    }

    @Test("errors: the callee's error ratio explains the caller's, and the sentence says so")
    func calleeErrorsSentence() {
        let o = Self.fleet(0..<40) { i in
            var s = Shape()
            if i >= 30 { s.pricingErrors = 20; s.frontendErrors = 20 }
            return s
        }
        let c = Self.rank(o)
        #expect(c.first?.entity == Entity(.service, "pricing"))
        #expect(c.first?.metric == "error_ratio")
        let sentence = Sentences.sentence(c[0], bucketSeconds: 60)
        #expect(sentence.hasPrefix("pricing: error ratio 10.0 % vs 0.0 % baseline since 10:30 UTC"), "\(sentence)")
        #expect(sentence.contains("explains frontend's errors on frontend→pricing"), "\(sentence)")
        #expect(sentence.hasSuffix("no network evidence"), "\(sentence)")
    }

    @Test("client-side latency up, callee's server side flat, retransmits on the path: the datacenter link ranks first")
    func networkAboveServices() {
        let o = Self.fleet(0..<40) { i in
            var s = Shape()
            if i >= 30 { s.edgeClientMs = 41; s.frontendMs = 42; s.retransmits = 600 }
            return s
        }
        let c = Self.rank(o)
        #expect(c.first?.entity == .link("dc1", "dc2"), "\(c.map(\.entity))")
        let edge = c.first { $0.entity == .edge("frontend", "pricing") }
        #expect(edge?.explainedBy == [.link("dc1", "dc2")])
        #expect(!c.contains { $0.entity == Entity(.service, "pricing") })
        let sentence = edge.map { Sentences.sentence($0, bucketSeconds: 60) } ?? ""
        #expect(sentence.contains("explained by link dc1↔dc2; network: dc_link:dc1↔dc2 retransmits +10.0/s, path:frontend↔pricing retransmits +10.0/s"),
                "\(sentence)")
    }

    @Test("within one datacenter the host whose sockets retransmit is the network candidate")
    func hostCandidate() {
        let o = Self.fleet(0..<40, hosts: true, sameDC: true) { i in
            var s = Shape()
            if i >= 30 { s.edgeClientMs = 41; s.frontendMs = 42; s.retransmits = 600 }
            return s
        }
        let c = Self.rank(o)
        #expect(c.first?.entity == Entity(.host, "h11"), "\(c.map(\.entity))")
        #expect(c.first { $0.entity == .edge("frontend", "pricing") }?.explainedBy == [Entity(.host, "h11")])
        #expect(!c.contains { $0.entity.kind == .dcLink })
    }

    @Test("a stopped callee (its rate collapses, its callers fail, their hosts see resets) ranks first and explains them")
    func stoppedCallee() {
        let o = Self.fleet(0..<40, hosts: true) { i in
            var s = Shape()
            if i >= 30 { s.pricingStopped = true; s.frontendErrors = 200; s.resets = 400 }
            return s
        }
        let c = Self.rank(o)
        #expect(c.first?.entity == Entity(.service, "pricing") && c.first?.metric == "request_rate", "\(c.map(\.entity))")
        #expect(c.first { $0.entity == Entity(.service, "frontend") }?.explainedBy == [Entity(.service, "pricing")])
        #expect(c.first { $0.entity == Entity(.service, "cache") }?.explainedBy == [Entity(.service, "pricing")])
        // h11's resets are the refusals (the link's resets, which pricing also explains, account for them too).
        #expect(c.first { $0.entity == Entity(.host, "h11") }?.explainedBy.contains(Entity(.service, "pricing")) == true)
        #expect(c.filter { $0.depth == 0 }.map(\.entity) == [Entity(.service, "pricing")], "\(c.map { ($0.entity, $0.depth) })")
    }

    @Test("load ×2 and ÷2 (latency and error ratio unchanged) raise no candidate; a fall to a fifth does")
    func loadChangesDoNotAlarm() {
        for factor in [2.0, 0.5] {
            let o = Self.fleet(0..<40) { i in
                var s = Shape()
                if i >= 30 { s.requests = Int64(200 * factor) }
                return s
            }
            #expect(Self.rank(o).isEmpty, "load ×\(factor)")
        }
        let o = Self.fleet(0..<40) { i in
            var s = Shape()
            if i >= 30 { s.requests = 40 }
            return s
        }
        #expect(Self.rank(o).contains { $0.entity == Entity(.service, "pricing") && $0.metric == "request_rate" })
    }

    @Test("small counts never alarm: few requests, few errors, few retransmits")
    func minimumSupport() {
        var d = PipelineSpec.DetectParameters()
        d.minRequests = 50
        // 30 requests a bucket: every RED bucket is below support, so 50 % errors do not page.
        let few = Self.fleet(0..<40) { i in
            var s = Shape()
            s.requests = 30
            if i >= 30 { s.pricingErrors = 15; s.frontendErrors = 15 }
            return s
        }
        #expect(Self.rank(few, detect: d).isEmpty)
        // Enough requests, and spreads so small that any rise is far off: still 4 errors (< min_errors
        // 5) and 9 retransmits (< min_events 10) do not page; 6 errors and 11 retransmits do.
        d.errorRatioFloor = 0.0001
        d.eventRateFloor = 0.001
        let fewEvents = Self.fleet(0..<40) { i in
            var s = Shape()
            if i >= 30 { s.pricingErrors = 4; s.retransmits = 8 }
            return s
        }
        #expect(Self.rank(fewEvents, detect: d).isEmpty)
        let enough = Self.fleet(0..<40) { i in
            var s = Shape()
            if i >= 30 { s.pricingErrors = 6; s.retransmits = 10 }
            return s
        }
        let c = Self.rank(enough, detect: d)
        #expect(c.contains { $0.entity == Entity(.service, "pricing") && $0.metric == "error_ratio" })
        #expect(c.contains { $0.entity == .link("dc1", "dc2") && $0.metric == "retransmits" })
    }

    @Test("one bad bucket does not page (min_alarm_buckets 2); two in a row do")
    func persistence() {
        for length in [1, 2] {
            let o = Self.fleet(0..<40) { i in
                var s = Shape()
                if (30..<30 + length).contains(i) { s.pricingMs = 51; s.edgeClientMs = 51.3; s.frontendMs = 52 }
                return s
            }
            #expect(Self.rank(o).first?.entity == (length == 1 ? nil : Entity(.service, "pricing")), "\(length) bucket(s)")
        }
    }

    @Test("cold start: a fault before the baseline has min_baseline_buckets buckets is not judged; the window reaches into the hour before")
    func coldStartAndEarlierPartition() {
        var d = PipelineSpec.DetectParameters()
        d.minBaselineBuckets = 10
        let early = Self.fleet(0..<20) { i in
            var s = Shape()
            if i >= 5 { s.pricingMs = 51; s.edgeClientMs = 51.3; s.frontendMs = 52 }
            return s
        }
        #expect(Self.rank(early, detect: d).isEmpty)
        // The same fault 5 minutes into the hour, with the previous hour's buckets loaded: judged,
        // and its onset is in the previous hour when it began there.
        let warm = Self.fleet(-30..<20) { i in
            var s = Shape()
            if i >= -2 { s.pricingMs = 51; s.edgeClientMs = 51.3; s.frontendMs = 52 }
            return s
        }
        let c = Self.rank(warm, detect: d)
        #expect(c.first?.entity == Entity(.service, "pricing"))
        #expect(c.first?.onset == Self.bucket(-2))
        #expect(c.first?.firstBucket == Self.bucket(0))
    }

    @Test("ranking is deterministic: equal scores are ordered by entity name")
    func tiesByName() {
        var o = Observations(bucketSeconds: 60)
        for i in 0..<30 {
            for svc in ["zeta", "alpha"] {
                o.red.append(REDObservation(bucket: Self.bucket(i), callee: svc, observer: "server", requests: 100, errors: i >= 25 ? 20 : 0,
                                            latency: Self.latency(1, 100)))
            }
        }
        let c = Self.rank(o)
        #expect(c.map(\.entity.name) == ["alpha", "zeta"])
        #expect(c.map(\.rank) == [1, 2])
        #expect(c[0].score == c[1].score)
    }
}
