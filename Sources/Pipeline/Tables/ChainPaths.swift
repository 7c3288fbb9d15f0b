import Aggregates
import Parquet

/// `chain_paths` (schemas/tables/chain_paths.md): chains per entry service and path of services,
/// built by the merge stage from the assembled `call_chains` (its host partials are empty).
public enum ChainPaths: OutputTable {
    public typealias Cell = ChainPathCell

    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var entry: Int32 = 0
        public var path: Int32 = 0
        /// 1: chains assembled by trace id; 0: calls without a trace id, per caller>callee.
        public var traced: Int32 = 0

        public init() {}

        public init(bucket: Int64, entry: Int32, path: Int32, traced: Int32) {
            self.bucket = bucket
            self.entry = entry
            self.path = path
            self.traced = traced
        }

        public static func < (a: Self, b: Self) -> Bool {
            (a.bucket, a.entry, a.path, a.traced) < (b.bucket, b.entry, b.path, b.traced)
        }
    }

    public static let name = "chain_paths"
    public static let version = 1
    public static let doc = "Call chains per entry service and path of services, per bucket of their start: counts, failures, end-to-end latency."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("entry_service", \.entry, doc: "The service whose calls start the trace (the caller of its root hops); one chain per trace and entry."),
            .name("path", \.path, doc: "The chain's services as a tree, a>b>(c,d); for untraced rows caller>callee."),
            .code("traced", \.traced, doc: "1: chains assembled by trace id; 0: calls that carried no trace id (the chain breaks there)."),
            .count("chains", \.chains, unit: "chains", doc: "Chains of this shape that started in the bucket (untraced rows: such calls)."),
            .count("failed_chains", \.failedChains, unit: "chains", doc: "Of those, chains with a hop in status class server error; error ratio = failed_chains / chains."),
            .count("hops", \.hops, unit: "calls", doc: "Hops of those chains."),
            .histogram(\.latency, quantiles: [0.5, 0.9, 0.99], columns: [
                TableColumn("latency_scale", .int32, doc: "Scale of the exponential histogram: base 2^(2^-scale)."),
                TableColumn("latency_zero_count", .int64, unit: "chains", doc: "Chains with a duration of 0 ns."),
                TableColumn("latency_offset", .int32, doc: "Bucket index of latency_counts[0]."),
                TableColumn("latency_counts", .int64, .list(nullable: false, elementNullable: false), unit: "chains",
                            doc: "Dense bucket counts of chain durations (the entry's first call's start to its last call's end); bucket i holds durations in (base^i, base^(i+1)] ns."),
                TableColumn("latency_sum_ns", .int64, unit: "ns", doc: "Sum of chain durations."),
                TableColumn("latency_min_ns", .int64, .optional, unit: "ns", doc: "Smallest chain duration; null when none."),
                TableColumn("latency_max_ns", .int64, .optional, unit: "ns", doc: "Largest chain duration; null when none."),
                TableColumn("p50_ns", .double, .optional, unit: "ns", doc: "Median chain latency read from the histogram."),
                TableColumn("p90_ns", .double, .optional, unit: "ns", doc: "90th percentile chain latency read from the histogram."),
                TableColumn("p99_ns", .double, .optional, unit: "ns", doc: "99th percentile chain latency read from the histogram."),
            ]),
        ]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { ChainPathCell(scale: histogramScale) }
}
