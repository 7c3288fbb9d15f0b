import Aggregates
import Foundation
import Pipeline

/// What a candidate is about. `path` (the TCP trouble between two services, from merged
/// `tcp_health`) is judged for evidence only and never becomes a candidate itself.
public enum EntityKind: String, Sendable, CaseIterable {
    case service
    case edge
    case host
    case dcLink = "dc_link"
    case path
}

/// An entity by kind and name: a service; an edge `caller→callee`; a host; a datacenter link
/// `dcA↔dcB` (names sorted); a path `a↔b` (services sorted).
public struct Entity: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: EntityKind
    public var name: String

    public init(_ kind: EntityKind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public static func edge(_ caller: String, _ callee: String) -> Entity { Entity(.edge, "\(caller)→\(callee)") }
    public static func link(_ a: String, _ b: String) -> Entity { Entity(.dcLink, a < b ? "\(a)↔\(b)" : "\(b)↔\(a)") }
    public static func path(_ a: String, _ b: String) -> Entity { Entity(.path, a < b ? "\(a)↔\(b)" : "\(b)↔\(a)") }

    /// caller and callee of an edge.
    public var edgeEnds: (caller: String, callee: String)? {
        guard kind == .edge, let r = name.range(of: "→") else { return nil }
        return (String(name[..<r.lowerBound]), String(name[r.upperBound...]))
    }

    public var description: String { "\(kind.rawValue):\(name)" }
    public static func < (a: Entity, b: Entity) -> Bool { (a.name, a.kind.rawValue) < (b.name, b.kind.rawValue) }
}

/// What moved. Metrics of one family explain each other along the call graph (a callee's
/// latency explains its callers' latency, not their error ratio).
public enum MetricFamily: String, Sendable {
    case errors, latency, rate, network
}

/// One time series judged against its own baseline: an entity, a metric, and whose view.
public struct SeriesKey: Hashable, Sendable, Comparable {
    public var entity: Entity
    /// `error_ratio`, `p50`, `p99`, `request_rate`, `retransmits`, `resets`, `drops`, `drops:<reason>`.
    public var metric: String
    /// `server` or `client` for RED series, empty for TCP series.
    public var observer: String

    public var family: MetricFamily {
        switch metric {
        case "error_ratio": .errors
        case "p50", "p99": .latency
        case "request_rate": .rate
        default: .network
        }
    }

    /// The unit of `observed` and `baseline`.
    public var unit: String {
        switch family {
        case .errors: "ratio"
        case .latency: "ns"
        case .rate: "calls/s"
        case .network: metric.hasPrefix("drops") ? "packets/s" : "events/s"
        }
    }

    public static func < (a: SeriesKey, b: SeriesKey) -> Bool { (a.entity, a.metric, a.observer) < (b.entity, b.metric, b.observer) }
}

/// One bucket of a series, judged.
public struct Judgement: Sendable, Equatable {
    public var value: Double
    /// Median of the trailing window's supported buckets.
    public var baseline: Double
    /// How far off, in the detector's robust units: at `threshold` a bucket alarms.
    public var score: Double
    /// Requests (RED) or events (TCP) behind `value`.
    public var support: Int64
    public var completeness: Double
    public var alarm: Bool
}

/// A judged series: every grid bucket that had a baseline (cold buckets are absent).
public struct Finding: Sendable {
    public var key: SeriesKey
    public var buckets: [Int64: Judgement]
}

/// Robust per-series detectors (schemas/pipeline-v1.md, "Anomaly pipelines", `detect`).
///
/// For each grid bucket the baseline is the median of the series' supported buckets in the
/// trailing `baselineBuckets` buckets (earlier partitions included when loaded), and the spread is
/// 1.4826 × MAD, never below the metric's floor, so a flat history does not make every wiggle
/// infinitely surprising. A series with fewer than `minBaselineBuckets` supported buckets in its
/// window is cold and never alarms: the first hour of a new service or of a fresh install only
/// builds baselines. Latency, error ratio and TCP rates alarm upwards only; the request rate only
/// downwards, on a log scale, and only past `rateLog2Threshold` (load ÷2 is not a fault; a surge
/// is load, never a fault).
public struct Detector: Sendable {
    public let parameters: PipelineSpec.DetectParameters

    public init(parameters: PipelineSpec.DetectParameters) { self.parameters = parameters }

    struct Sample {
        var value: Double
        var support: Int64
        var errors: Int64 = 0
        var completeness: Double
        /// Enough support to be judged and to be part of a baseline.
        var eligible: Bool
    }

    /// Every series of `observations`, judged on its grid.
    public func findings(_ observations: Observations) -> [Finding] {
        let grid = observations.grid
        let width = Double(observations.bucketSeconds)
        var out: [Finding] = []
        for (key, samples) in series(observations, grid: grid).sorted(by: { $0.key < $1.key }) {
            out.append(Finding(key: key, buckets: judge(key, samples, grid: grid, bucketNanos: Int64(observations.bucketSeconds) * 1_000_000_000,
                                                        width: width)))
        }
        return out
    }

    func series(_ o: Observations, grid: [Int64]) -> [SeriesKey: [Int64: Sample]] {
        let minRequests = Int64(parameters.minRequests)
        struct REDAcc { var requests: Int64 = 0; var errors: Int64 = 0; var latency: ExponentialHistogram?; var completeness = 1.0 }
        var red: [Entity: [String: [Int64: REDAcc]]] = [:]
        for r in o.red {
            let entity = r.caller.map { Entity.edge($0, r.callee) } ?? Entity(.service, r.callee)
            guard r.observer == "server" || r.observer == "client" else { continue }
            var a = red[entity]?[r.observer]?[r.bucket] ?? REDAcc()
            a.requests += r.requests
            a.errors += r.errors
            if a.latency == nil { a.latency = r.latency } else { a.latency!.merge(r.latency) }
            a.completeness = min(a.completeness, r.completeness)
            red[entity, default: [:]][r.observer, default: [:]][r.bucket] = a
        }
        var out: [SeriesKey: [Int64: Sample]] = [:]
        for (entity, byObserver) in red {
            for (observer, buckets) in byObserver {
                // A service is judged on its own (server) view; an edge on both views: the client
                // side is the candidate, the server side says whether the callee saw it too.
                if entity.kind == .service && observer != "server" { continue }
                for (b, a) in buckets {
                    let ok = a.requests >= minRequests
                    out[SeriesKey(entity: entity, metric: "error_ratio", observer: observer), default: [:]][b] =
                        Sample(value: a.requests == 0 ? 0 : Double(a.errors) / Double(a.requests), support: a.requests, errors: a.errors,
                               completeness: a.completeness, eligible: ok)
                    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
                        if let v = a.latency?.quantile(q) {
                            let tail = Double(a.requests) * (1 - q) >= Double(parameters.minTailCalls)
                            out[SeriesKey(entity: entity, metric: name, observer: observer), default: [:]][b] =
                                Sample(value: v, support: a.requests, completeness: a.completeness, eligible: ok && tail)
                        }
                    }
                }
                if entity.kind == .service {
                    // Absent rows on the grid are zero requests: a stopped service has none.
                    var s: [Int64: Sample] = [:]
                    for b in grid {
                        let a = buckets[b] ?? REDAcc()
                        s[b] = Sample(value: Double(a.requests) / o.coveredSeconds(b), support: a.requests, completeness: a.completeness, eligible: true)
                    }
                    out[SeriesKey(entity: entity, metric: "request_rate", observer: observer)] = s
                }
            }
        }

        // TCP: merged rows per service pair (paths) and datacenter link; partials per host.
        struct TCPAcc { var retransmits: Int64 = 0; var resets: Int64 = 0; var drops: Int64 = 0; var completeness = 1.0 }
        var tcp: [Entity: [Int64: TCPAcc]] = [:]
        func add(_ e: Entity, _ r: TCPObservation) {
            var a = tcp[e]?[r.bucket] ?? TCPAcc()
            a.retransmits += r.retransmits
            a.resets += r.resets
            a.drops += r.drops
            a.completeness = min(a.completeness, r.completeness)
            tcp[e, default: [:]][r.bucket] = a
        }
        let dcs = o.datacenters
        for r in o.tcp {
            add(.path(r.service, r.peer), r)
            if let a = dcs[r.service], let b = dcs[r.peer], a != b { add(.link(a, b), r) }
        }
        for r in o.hostTCP { if let h = r.host { add(Entity(.host, h), r) } }
        for (entity, buckets) in tcp {
            for (metric, pick) in [("retransmits", \TCPAcc.retransmits), ("resets", \TCPAcc.resets), ("drops", \TCPAcc.drops)] {
                guard buckets.values.contains(where: { $0[keyPath: pick] > 0 }) else { continue }
                var s: [Int64: Sample] = [:]
                for b in grid {
                    let a = buckets[b] ?? TCPAcc()
                    s[b] = Sample(value: Double(a[keyPath: pick]) / o.coveredSeconds(b), support: a[keyPath: pick], completeness: a.completeness,
                                  eligible: true)
                }
                out[SeriesKey(entity: entity, metric: metric, observer: "")] = s
            }
        }
        // Drops by reason per host (teardown is a closing connection, not trouble).
        var byReason: [SeriesKey: [Int64: (Int64, Double)]] = [:]
        for r in o.hostDrops where r.dropClass != "teardown" {
            let k = SeriesKey(entity: Entity(.host, r.host), metric: "drops:\(r.reason)", observer: "")
            let c = byReason[k]?[r.bucket] ?? (0, 1)
            byReason[k, default: [:]][r.bucket] = (c.0 + r.drops, min(c.1, r.completeness))
        }
        for (k, buckets) in byReason {
            var s: [Int64: Sample] = [:]
            for b in grid {
                let c = buckets[b] ?? (0, 1)
                s[b] = Sample(value: Double(c.0) / o.coveredSeconds(b), support: c.0, completeness: c.1, eligible: true)
            }
            out[k] = s
        }
        return out
    }

    func judge(_ key: SeriesKey, _ samples: [Int64: Sample], grid: [Int64], bucketNanos: Int64, width: Double) -> [Int64: Judgement] {
        let p = parameters
        let windowNanos = Int64(p.baselineBuckets) * bucketNanos
        var out: [Int64: Judgement] = [:]
        var lo = 0
        for (i, b) in grid.enumerated() {
            guard let s = samples[b] else { continue }
            while grid[lo] < b - windowNanos { lo += 1 }
            let history = grid[lo..<i].compactMap { samples[$0] }.filter(\.eligible).map(\.value)
            guard history.count >= p.minBaselineBuckets, s.eligible else { continue }
            let median = Self.median(history)
            let mad = Self.median(history.map { abs($0 - median) })
            var score: Double
            var alarm: Bool
            switch key.family {
            case .errors:
                score = (s.value - median) / max(1.4826 * mad, p.errorRatioFloor)
                alarm = score >= p.threshold && s.errors >= Int64(p.minErrors)
            case .latency:
                score = (s.value - median) / max(1.4826 * mad, p.latencyRelativeFloor * median, Double(p.latencyFloorNanos))
                alarm = score >= p.threshold
            case .rate:
                // Downward only: a surge is load; a collapse is a service that stopped answering
                // (or lost its callers).
                let oneCall = 1 / width
                score = log2((median + oneCall) / (s.value + oneCall)) * p.threshold / p.rateLog2Threshold
                alarm = score >= p.threshold && median * width >= Double(p.minRequests)
            case .network:
                score = (s.value - median) / max(1.4826 * mad, p.eventRateFloor)
                alarm = score >= p.threshold && s.support >= Int64(p.minEvents)
            }
            out[b] = Judgement(value: s.value, baseline: median, score: score, support: s.support, completeness: s.completeness, alarm: alarm)
        }
        // Only runs of min_alarm_buckets consecutive judged buckets alarm.
        var run: [Int64] = []
        for b in grid + [Int64.max] {
            if out[b]?.alarm == true {
                run.append(b)
                continue
            }
            if run.count < p.minAlarmBuckets { for r in run { out[r]!.alarm = false } }
            run = []
        }
        return out
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
