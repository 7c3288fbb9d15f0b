import YAMLConfig

// The parameters of an `anomaly` pipeline's stages (schemas/pipeline-v1.md, "Anomaly pipelines").
// Declared here so PipelineSpec validates the whole file in one place; the detectors and the
// ranking that use them live in Sources/Anomaly.

extension PipelineSpec {
    /// `detect`: robust baselines per entity and metric, and when a bucket counts as anomalous.
    public struct DetectParameters: Sendable, Equatable {
        /// Trailing window of the baseline, in buckets; it reaches into earlier hour partitions.
        public var baselineBuckets = 60
        /// A series with fewer supported buckets in its window never alarms (cold start).
        public var minBaselineBuckets = 10
        /// Robust z-score (deviation over 1.4826 × MAD, or the metric's floor) at which a bucket alarms.
        public var threshold = 6.0
        /// A series alarms only in runs of at least this many consecutive alarmed buckets: a lone
        /// noisy bucket does not page.
        public var minAlarmBuckets = 2
        /// RED buckets with fewer requests are neither judged nor part of a baseline.
        public var minRequests = 20
        /// A latency quantile q is judged only when requests × (1 − q) reaches this: the p99 of
        /// 200 calls is their second slowest, noise rather than a tail.
        public var minTailCalls = 5
        /// An error-ratio alarm needs at least this many errors in the bucket.
        public var minErrors = 5
        /// A TCP alarm (retransmits, resets, drops) needs at least this many events in the bucket.
        public var minEvents = 10
        /// Smallest spread assumed for the error ratio (absolute, 0...1).
        public var errorRatioFloor = 0.01
        /// Smallest spread assumed for a latency quantile, as a share of its baseline.
        public var latencyRelativeFloor = 0.25
        /// Smallest spread assumed for a latency quantile, in ns: sub-millisecond jitter is not a fault.
        public var latencyFloorNanos = 100_000
        /// Smallest spread assumed for a TCP event rate, events per second.
        public var eventRateFloor = 1.0
        /// Request rate alarms when log2(baseline / observed) reaches this (2: a fall to a quarter):
        /// a load change of ÷2 never pages, and a rise is load, never a fault.
        public var rateLog2Threshold = 2.0

        public init() {}

        init(_ n: YAMLNode) throws(ConfigError) {
            try n.requireKeys(in: ["stage", "baseline_buckets", "min_baseline_buckets", "threshold", "min_alarm_buckets", "min_requests", "min_tail_calls", "min_errors",
                                   "min_events", "error_ratio_floor", "latency_relative_floor", "latency_floor_ns", "event_rate_floor",
                                   "rate_log2_threshold"])
            baselineBuckets = try Self.int(n, "baseline_buckets", 3...10_080, baselineBuckets)
            minBaselineBuckets = try Self.int(n, "min_baseline_buckets", 1...baselineBuckets, minBaselineBuckets)
            threshold = try Self.double(n, "threshold", 1...1000, threshold)
            minAlarmBuckets = try Self.int(n, "min_alarm_buckets", 1...60, minAlarmBuckets)
            minRequests = try Self.int(n, "min_requests", 1...1_000_000_000, minRequests)
            minTailCalls = try Self.int(n, "min_tail_calls", 1...1_000_000, minTailCalls)
            minErrors = try Self.int(n, "min_errors", 1...1_000_000_000, minErrors)
            minEvents = try Self.int(n, "min_events", 1...1_000_000_000, minEvents)
            errorRatioFloor = try Self.double(n, "error_ratio_floor", 0.0001...1, errorRatioFloor)
            latencyRelativeFloor = try Self.double(n, "latency_relative_floor", 0.001...10, latencyRelativeFloor)
            latencyFloorNanos = try Self.int(n, "latency_floor_ns", 1...60_000_000_000, latencyFloorNanos)
            eventRateFloor = try Self.double(n, "event_rate_floor", 0.001...1_000_000, eventRateFloor)
            rateLog2Threshold = try Self.double(n, "rate_log2_threshold", 0.1...20, rateLog2Threshold)
        }

        static func int(_ n: YAMLNode, _ key: String, _ range: ClosedRange<Int>, _ def: Int) throws(ConfigError) -> Int {
            guard let v = n[key] else { return def }
            let x = try v.int()
            guard range.contains(x) else { throw v.fail("must be in \(range.lowerBound)...\(range.upperBound)") }
            return x
        }

        static func double(_ n: YAMLNode, _ key: String, _ range: ClosedRange<Double>, _ def: Double) throws(ConfigError) -> Double {
            guard let v = n[key] else { return def }
            guard let x = Double(try v.string()), x.isFinite else { throw v.fail("expected a number") }
            guard range.contains(x) else { throw v.fail("must be in \(range.lowerBound)...\(range.upperBound)") }
            return x
        }
    }

    /// `rank`: how many ranked candidates a partition keeps.
    public struct RankParameters: Sendable, Equatable {
        /// Candidates written per partition, best first (the rest are dropped, counted in a warning).
        public var maxCandidates = 50
        /// A cause explains a symptom only if its excess over baseline is at least this share of
        /// the symptom's, on a common metric in a common bucket.
        public var explainShare = 0.5

        public init() {}

        init(_ n: YAMLNode) throws(ConfigError) {
            try n.requireKeys(in: ["stage", "max_candidates", "explain_share"])
            maxCandidates = try DetectParameters.int(n, "max_candidates", 1...100_000, maxCandidates)
            explainShare = try DetectParameters.double(n, "explain_share", 0.01...1, explainShare)
        }
    }

    public var detect: DetectParameters? {
        for case .detect(let p) in stages { return p }
        return nil
    }
    public var rank: RankParameters? {
        for case .rank(let p) in stages { return p }
        return nil
    }
}
