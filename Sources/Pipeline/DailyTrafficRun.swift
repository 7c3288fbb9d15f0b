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
        try makeParent("\(tableRoot)/.redline.lock", mode: mode_t(spec.write.dirMode))
        let lock = try TableRootLock(tableRoot: tableRoot)
        defer { lock.release() }

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

        let rel = "\(Self.table.name)/\(partition.path)/part-00000.parquet"
        let staging = "\(tableRoot)/.staging/\(spec.name)-\(partition.path)"
        let staged = "\(staging)/\(rel)"
        try makeParent(staged, mode: mode_t(spec.write.dirMode))
        do {
            var o = ParquetWriterOptions()
            o.compression = spec.write.compression == "zstd" ? .zstd : .uncompressed
            o.zstdLevel = Int32(spec.write.zstdLevel)
            o.fileMode = mode_t(spec.write.fileMode)
            let w = try ParquetFileWriter(path: staged, schema: Self.table.parquetSchema, options: o,
                                          metadata: Self.table.keyValueMetadata + [("redline.version", RedlineVersion.current),
                                                                                  ("redline.partition", partition.path)])
            try w.write(columns)
            try w.close()
        } catch {
            throw .output("writing \(rel): \(error)")
        }
        let manifestPath = Manifest.path(tableRoot: tableRoot, pipeline: spec.name, partition: partition)
        let manifest = try PartitionCommit(tableRoot: tableRoot, staging: staging, folders: ["\(Self.table.name)/\(partition.path)"],
                                           removals: [], fileMode: mode_t(spec.write.fileMode), folderMode: mode_t(spec.write.dirMode))
            .publish(Manifest(manifestVersion: Manifest.formatVersion, pipeline: spec.name, definition: "rollup-\(rollup.bucketSeconds)",
                              partition: partition.path, redlineVersion: RedlineVersion.current, watermarkUTCNanos: nil,
                              inputs: inputs, tables: [.init(table: Self.table.name, path: rel, rows: rows.groupCount, scope: "merged")],
                              hosts: [:], warnings: warnings), at: manifestPath)
        for w in warnings { logger.warning("\(w)") }
        return manifest
    }
}
