import Foundation
import Parquet
import RedlineBase

/// Writes and commits one partition of a table computed from other tables (not from segments),
/// through the same staging, `_redline_run` markers, journal and manifest as every other run
/// (`PartitionCommit`, schemas/pipeline-v1.md "Commit"): the daily rollup, and pipelines that
/// live outside this module (Sources/Anomaly). A run does its reading and publishing inside
/// `locked`, so it is the only run on the table root meanwhile.
public struct DerivedTablePublisher {
    public let spec: PipelineSpec
    public let tableRoot: String
    public let partition: Partition

    public init(spec: PipelineSpec, tableRoot: String, partition: Partition) {
        self.spec = spec
        self.tableRoot = tableRoot
        self.partition = partition
    }

    /// Runs `body` holding the table root's lock (`<tables>/.redline.lock`; exit 4 when another run has it).
    public func locked<T>(_ body: () throws(PipelineError) -> T) throws(PipelineError) -> T {
        try makeParent("\(tableRoot)/.redline.lock", mode: mode_t(spec.write.dirMode))
        let lock = try TableRootLock(tableRoot: tableRoot)
        defer { lock.release() }
        return try body()
    }

    /// Fingerprints committed table files read as inputs (listed in the manifest like segments).
    public func fingerprint(_ paths: [String]) throws(PipelineError) -> [InputSegment] {
        try SegmentInputs.fingerprint(root: tableRoot, host: "tables", files: paths)
    }

    /// Writes `columns` as `<table>/<partition>/part-00000.parquet` and commits it with a
    /// manifest under `_manifests/<pipeline>/`. `definition` fingerprints the parameters. Call it
    /// inside `locked`.
    public func publish(table: TableSchema, columns: [ColumnData], rows: Int, definition: String,
                        inputs: [InputSegment], warnings: [String]) throws(PipelineError) -> Manifest {
        let rel = "\(table.name)/\(partition.path)/part-00000.parquet"
        let staging = "\(tableRoot)/.staging/\(spec.name)-\(partition.path)"
        let staged = "\(staging)/\(rel)"
        try makeParent(staged, mode: mode_t(spec.write.dirMode))
        do {
            var o = ParquetWriterOptions()
            o.compression = spec.write.compression == "zstd" ? .zstd : .uncompressed
            o.zstdLevel = Int32(spec.write.zstdLevel)
            o.fileMode = mode_t(spec.write.fileMode)
            let w = try ParquetFileWriter(path: staged, schema: table.parquetSchema, options: o,
                                          metadata: table.keyValueMetadata + [("redline.version", RedlineVersion.current),
                                                                             ("redline.partition", partition.path)])
            try w.write(columns)
            try w.close()
        } catch {
            throw .output("writing \(rel): \(error)")
        }
        return try PartitionCommit(tableRoot: tableRoot, staging: staging, folders: ["\(table.name)/\(partition.path)"],
                                   removals: [], fileMode: mode_t(spec.write.fileMode), folderMode: mode_t(spec.write.dirMode))
            .publish(Manifest(manifestVersion: Manifest.formatVersion, pipeline: spec.name, definition: definition,
                              partition: partition.path, redlineVersion: RedlineVersion.current, watermarkUTCNanos: nil,
                              inputs: inputs, tables: [.init(table: table.name, path: rel, rows: rows, scope: "merged")],
                              hosts: [:], warnings: warnings),
                     at: Manifest.path(tableRoot: tableRoot, pipeline: spec.name, partition: partition))
    }
}
