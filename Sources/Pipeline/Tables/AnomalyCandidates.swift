import Aggregates

/// `anomaly_candidates` (schemas/tables/anomaly_candidates.md): the ranked candidates an anomaly
/// run computes from merged tables (Sources/Anomaly). Never merged: its fields are the unmerged
/// value kinds, and it is listed in `PipelineTables.every` only.
public enum AnomalyCandidates: OutputTable {
    /// The first alarmed bucket and the rank (unique within a partition).
    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var rank: Int32 = 0
        public init() {}
        public init(bucket: Int64, rank: Int32) {
            self.bucket = bucket
            self.rank = rank
        }
        public static func < (a: Self, b: Self) -> Bool { (a.bucket, a.rank) < (b.bucket, b.rank) }
    }

    /// One candidate's values (Sources/Anomaly's `Candidate`, as written).
    public struct Cell: Mergeable, Equatable {
        public var bucketEnd: Int64 = 0
        public var entityKind = "", entity = "", service = "", metric = "", observer = ""
        public var observed = 0.0, baseline = 0.0
        public var unit = ""
        public var score = 0.0
        public var onset: Int64 = 0
        public var support: Int64 = 0
        public var explains = "", explainedBy = "", network = "", evidence = ""
        public var completeness = 1.0
        public init() {}
        /// Candidates are computed whole, never merged: one row per key.
        public mutating func merge(_ other: Cell) { self = other }
    }

    public static let name = "anomaly_candidates"
    public static let version = 1
    public static let doc = "Ranked anomaly candidates of one hour partition: one row per alarmed entity, causes above their symptoms."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucketStart,
            .int64("bucket_end", \.bucketEnd, type: .timestampNanos, unit: "ns since Unix epoch, UTC",
                   doc: "End (exclusive) of the last bucket of the partition in which the entity alarmed."),
            .bucketSeconds,
            .code("rank", \.rank, doc: "1 = most likely cause; explained candidates rank below what explains them."),
            .text("entity_kind", \.entityKind, doc: "service, edge, host or dc_link."),
            .text("entity", \.entity, doc: "The service; the edge as caller→callee; the host; the link as dcA↔dcB."),
            .text("service", \.service, doc: "The service concerned: the service itself, an edge's callee, the host or link name for network candidates."),
            .text("metric", \.metric, doc: "The strongest alarmed metric: error_ratio, p50, p99, request_rate, retransmits, resets, drops, drops:<reason>."),
            .text("observer", \.observer, doc: "server (a service's own sockets), client (an edge seen by its caller), empty for TCP metrics."),
            .double("observed", \.observed, doc: "The metric at the peak bucket, in unit."),
            .double("baseline", \.baseline, doc: "The trailing window's median, in unit."),
            .text("unit", \.unit, doc: "ratio, ns, calls/s, events/s or packets/s."),
            .double("score", \.score, doc: "How far off at the peak bucket, in robust z units (deviation over 1.4826 × MAD or the metric's floor); the detector alarms at its threshold."),
            .int64("onset", \.onset, type: .timestampNanos, unit: "ns since Unix epoch, UTC",
                   doc: "Start of the alarm episode: the first of the consecutive alarmed buckets, earlier partitions included."),
            .int64("support", \.support, doc: "Requests (RED metrics) or events (TCP metrics) in the peak bucket."),
            .text("explains", \.explains, doc: "Candidates this one explains, kind:name, separated by '; '."),
            .text("explained_by", \.explainedBy, doc: "Candidates that explain this one, kind:name, separated by '; '; empty for a root."),
            .text("network", \.network, doc: "TCP trouble on the paths, hosts and links around the entity at the peak: kind:name metric +delta, separated by '; '; empty when none."),
            .text("evidence", \.evidence, doc: "The candidate as a sentence a person on call reads (what redline explain prints)."),
            .double("completeness", \.completeness, unit: "ratio 0..1", doc: "The lowest completeness of the rows behind the peak bucket."),
        ]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { Cell() }
}
