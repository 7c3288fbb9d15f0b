import Aggregates
import CCompression
import Enrichment
import Foundation
import Logging
import Parquet

/// The daily traffic-governance rollup: a day of hourly merged
/// `traffic_matrix` files → `traffic_matrix_daily/date=D/part-00000.parquet`,
/// one row per (src/dst datacenter, src/dst service, l4 protocol, observer).
/// Reads the files the hourly runs committed (Parquet reader), so it needs no
/// segments; hours that have no table yet are listed as missing in the manifest.
public struct DailyTrafficRun {
    public let spec: PipelineSpec
    public let tableRoot: String
    public let partition: Partition
    public var logger: Logger

    /// The table it writes (`TrafficMatrixDaily`: traffic_matrix's fields under its own name).
    public static var table: TableSchema { TrafficMatrixDaily.schema }

    public init(spec: PipelineSpec, tableRoot: String, partition: Partition, logger: Logger) {
        self.spec = spec
        self.tableRoot = tableRoot
        self.partition = partition
        self.logger = logger
    }

    public func execute() throws(PipelineError) -> Manifest {
        guard partition.hour == nil else { throw .config("a daily-traffic pipeline runs day partitions (date=YYYY-MM-DD)") }
        let rollup = spec.rollup ?? PipelineSpec.RollupParameters()
        let publisher = DerivedTablePublisher(spec: spec, tableRoot: tableRoot, partition: partition)
        return try publisher.locked { () throws(PipelineError) -> Manifest in try rollUp(rollup, publisher) }
    }

    private func rollUp(_ rollup: PipelineSpec.RollupParameters, _ publisher: DerivedTablePublisher) throws(PipelineError) -> Manifest {
        var names = NamePool()
        var rows = Accumulator<TrafficMatrix.Key, Row<TrafficCell>>()
        var inputs: [InputSegment] = []
        var warnings: [String] = []
        let width = Int64(rollup.bucketSeconds) * 1_000_000_000
        for hour in partition.hours {
            let rel = "\(TrafficMatrix.name)/\(hour.path)/part-00000.parquet"
            let path = "\(tableRoot)/\(rel)"
            guard FileManager.default.fileExists(atPath: path) else {
                warnings.append("hour \(hour.path) has no traffic_matrix table yet")
                continue
            }
            inputs += try SegmentInputs.fingerprint(root: tableRoot, host: "tables", files: [path])
            let hourRows: [(key: TrafficMatrix.Key, row: Row<TrafficCell>)]
            do {
                hourRows = try TrafficMatrix.rows(from: PartialColumns(reading: path, as: TrafficMatrix.schema, relative: rel),
                                                  names: &names)
            } catch {
                // A file of another schema stops the run; damage inside one is a skipped hour.
                if error == PartialColumns.wrongSchema(rel, TrafficMatrix.schema) { throw error }
                warnings.append("\(rel) unreadable, skipped: \(error)")
                continue
            }
            for var r in hourRows {
                r.key.bucket = partition.startNanos + ((r.key.bucket - partition.startNanos) / width) * width
                rows.merge(r.key, r.row)
            }
        }
        let columns = TrafficMatrixDaily.columns(rows, names: names, ranks: NameRanks(names), bucketSeconds: rollup.bucketSeconds)

        let manifest = try publisher.publish(table: Self.table, columns: columns, rows: rows.groupCount,
                                             definition: "rollup-\(rollup.bucketSeconds)", inputs: inputs, warnings: warnings)
        for w in warnings { logger.warning("\(w)") }
        return manifest
    }
}
