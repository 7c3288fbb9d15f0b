import Aggregates
import Foundation
import Pipeline

/// Time slots the charts use: the selection cut into at most `maxSlots` equal steps, each a
/// "round" width no finer than the tables' buckets, so a chart's size does not grow with the
/// selection's length (one hour: 60 one-minute slots; 30 days: 60 twelve-hour slots).
public struct Slots: Sendable, Equatable {
    public let start: Int64
    public let stepNanos: Int64
    public let count: Int
    public static let maxSlots = 60
    static let roundSteps: [Int64] = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800]

    init(start: Int64, end: Int64, bucketSeconds: Int64) {
        let span = end - start
        let ns: Int64 = 1_000_000_000
        var step = Self.roundSteps.last! * ns
        for s in Self.roundSteps where s >= bucketSeconds && (span + s * ns - 1) / (s * ns) <= Int64(Self.maxSlots) {
            step = s * ns
            break
        }
        self.start = start
        self.stepNanos = step
        self.count = Int(max(1, (span + step - 1) / step))
    }

    /// The slot a bucket starting at `t` falls in, nil outside the selection.
    func slot(_ t: Int64) -> Int? {
        guard t >= start else { return nil }
        let i = Int((t - start) / stepNanos)
        return i < count ? i : nil
    }

    public func slotStart(_ i: Int) -> Int64 { start + Int64(i) * stepNanos }
}

/// Calls and bytes between two places.
public struct Traffic: Sendable, Equatable {
    public var bytes: Int64 = 0
    public var calls: Int64 = 0
    mutating func add(_ o: Traffic) { bytes &+= o.bytes; calls &+= o.calls }
}

/// The datacenter × datacenter matrix: bytes and calls from each sender DC to each receiver DC.
public struct DCMatrix: Sendable, Equatable {
    public var dcs: [String]
    public var cells: [String: [String: Traffic]]

    init(_ cells: [String: [String: Traffic]]) {
        self.cells = cells
        dcs = Set(cells.keys).union(cells.values.flatMap(\.keys)).sorted(by: dcOrder)
    }

    public func cell(_ src: String, _ dst: String) -> Traffic { cells[src]?[dst] ?? Traffic() }
    public func sent(_ dc: String) -> Traffic { dcs.reduce(into: Traffic()) { $0.add(cell(dc, $1)) } }
    public func received(_ dc: String) -> Traffic { dcs.reduce(into: Traffic()) { $0.add(cell($1, dc)) } }
    public var total: Traffic { dcs.reduce(into: Traffic()) { $0.add(sent($1)) } }
    public var crossDC: Traffic {
        var t = Traffic()
        for s in dcs { for d in dcs where s != d { t.add(cell(s, d)) } }
        return t
    }
}

/// `unknown` sorts after every named datacenter or service.
func dcOrder(_ a: String, _ b: String) -> Bool {
    if (a == "unknown") != (b == "unknown") { return b == "unknown" }
    return a < b
}

/// One service pair's traffic from one datacenter to another.
public struct ServicePair: Sendable, Equatable {
    public var srcDC, dstDC, srcService, dstService: String
    public var traffic: Traffic
}

/// Calls a service served in each datacenter, per slot (the DR-drill view).
public struct ServiceShares: Sendable, Equatable {
    public var service: String
    /// slot → datacenter → calls.
    public var calls: [[String: Int64]]
    public var total: Int64
}

/// Rate, errors and latency of one group over a span.
public struct REDFigures: Sendable, Equatable {
    public var requests: Int64 = 0
    public var errors: Int64 = 0
    public var latency: ExponentialHistogram
    public var minCompleteness = 1.0

    init(scale: Int) { latency = ExponentialHistogram(scale: scale) }

    public var errorRatio: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
    public var p50: Double? { latency.quantile(0.5) }
    public var p99: Double? { latency.quantile(0.99) }

    mutating func add(requests r: Int64, errors e: Int64, latency h: ExponentialHistogram, completeness c: Double) {
        requests &+= r
        errors &+= e
        latency.merge(h)
        minCompleteness = min(minCompleteness, c)
    }
}

/// A service's RED figures in total and per slot, as seen by one observer.
public struct ServiceRED: Sendable, Equatable {
    public var service: String
    public var protocols: [String]
    /// `server` when the service's own hosts saw its calls, else `client` (only its callers did).
    public var observer: String
    public var total: REDFigures
    public var slots: [REDFigures?]
}

/// A node of the topology: a service in one datacenter.
public struct TopologyNode: Sendable, Hashable, Comparable {
    public var dc: String
    public var service: String
    public static func < (a: Self, b: Self) -> Bool { a.dc != b.dc ? dcOrder(a.dc, b.dc) : dcOrder(a.service, b.service) }
}

/// An edge of the topology: calls from one service instance to another.
public struct TopologyEdge: Sendable, Equatable {
    public var caller: TopologyNode
    public var callee: TopologyNode
    public var observer: String
    public var figures: REDFigures
}

/// TCP trouble between a service and a peer over the selection.
public struct HealthRow: Sendable, Equatable {
    public var service, peer: String
    public var retransmits: Int64 = 0, resetsSent: Int64 = 0, resetsReceived: Int64 = 0, drops: Int64 = 0, idOptionMissing: Int64 = 0
    var trouble: Int64 { retransmits + resetsSent + resetsReceived + drops + idOptionMissing }
}

/// Packets dropped for one kernel drop reason over the selection.
public struct DropReasonRow: Sendable, Equatable {
    public var reason: String
    public var code: Int32
    public var drops: Int64
}

/// One row of `anomaly_candidates`. The report expects at least these columns (the anomaly
/// issue's table may carry more; they are ignored):
///
/// | column | type | meaning |
/// |---|---|---|
/// | `bucket_start` | timestamp_ns | start of the bucket the candidate is about |
/// | `rank` | int32 | 1 = most likely cause in its partition; a candidate another explains ranks below it |
/// | `service` | string | the service (for an edge: the callee) |
/// | `metric` | string | what moved (`error_ratio`, `p99`, `requests`, …) |
/// | `score` | double | how far off the metric is (a candidate explained by another may score higher) |
/// | `evidence` | string | why, in words a person reads (baseline, observed, related edges) |
public struct AnomalyRow: Sendable, Equatable {
    public static let requiredColumns = ["bucket_start", "rank", "service", "metric", "score", "evidence"]
    public var bucketStart: Int64
    /// The candidate's rank in its partition (the ranking over the call graph, not the score order).
    public var rank: Int32
    public var service, metric: String
    public var score: Double
    public var evidence: String
}

/// How far a table's rows can be trusted over the selection.
public struct TableCompleteness: Sendable, Equatable {
    public var table: String
    public var files = 0
    public var rows = 0
    public var minCompleteness = 1.0
    public var rowsIncomplete = 0
    public var maxEventsLost: Int64 = 0
}

/// One hour partition as its manifests describe it.
public struct PartitionStatus: Sendable, Equatable {
    public var partition: String
    public var hasManifest: Bool
    public var segments = 0
    public var hosts = 0
    public var damagedFiles = 0
    public var openFiles = 0
    public var uncorrectable: UInt64 = 0
    public var warnings: [String] = []
}

/// The daily matrix of a day and of the day before (nil when that day has no table).
public struct DailyMatrices: Sendable, Equatable {
    public var day: String
    public var matrix: DCMatrix
    public var previousDay: String
    public var previous: DCMatrix?
}

/// Everything the page shows, computed from the tables. Pure data: rendering reads only this.
public struct ReportData: Sendable, Equatable {
    public var selection: ReportSelection
    public var slots: Slots
    /// The hourly matrix over the selection (nil when no hour has a traffic_matrix table).
    public var matrix: DCMatrix?
    public var daily: DailyMatrices?
    /// The largest cross-datacenter pairs of the matrix shown (the day's, in a daily report).
    public var topPairs: [ServicePair]
    public var shares: [ServiceShares]
    public var services: [ServiceRED]
    public var nodes: [TopologyNode]
    public var edges: [TopologyEdge]
    public var health: [HealthRow]
    public var dropReasons: [DropReasonRow]
    /// nil: the table does not exist; empty: it exists and has no rows in the selection.
    public var anomalies: [AnomalyRow]?
    /// Why anomaly rows could not be shown (the table exists but lacks a required column).
    public var anomalyProblem: String?
    public var tables: [TableCompleteness]
    public var partitions: [PartitionStatus]
    /// The largest quantile error of the histograms shown (relative).
    public var quantileError: Double
}
