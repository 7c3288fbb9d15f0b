import Aggregates
import CCompression
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

    public static let table: TableSchema = {
        var t = PipelineTables.trafficMatrix
        t.name = "traffic_matrix_daily"
        t.doc = "traffic_matrix summed over a day (or the rollup's bucket): governance report input."
        return t
    }()

    public init(spec: PipelineSpec, tableRoot: String, partition: Partition, logger: Logger) {
        self.spec = spec
        self.tableRoot = tableRoot
        self.partition = partition
        self.logger = logger
    }

    struct Key: Hashable, Comparable {
        var bucket: Int64
        var parts: [String] // src_dc, dst_dc, src_service, dst_service, l4_protocol, observer, peer_identity_source
        static func < (a: Key, b: Key) -> Bool {
            a.bucket != b.bucket ? a.bucket < b.bucket : a.parts.lexicographicallyPrecedes(b.parts)
        }
    }

    public func execute() throws(PipelineError) -> Manifest {
        guard partition.hour == nil else { throw .config("a daily-traffic pipeline runs day partitions (date=YYYY-MM-DD)") }
        let rollup = spec.rollup ?? PipelineSpec.RollupParameters()
        try makeParent("\(tableRoot)/.redline.lock", mode: mode_t(spec.write.dirMode))
        let lock = try TableRootLock(tableRoot: tableRoot)
        defer { lock.release() }

        var rows = Accumulator<Key, Row<TrafficCell>>()
        var inputs: [InputSegment] = []
        var warnings: [String] = []
        let width = Int64(rollup.bucketSeconds) * 1_000_000_000
        for hour in partition.hours {
            let rel = "traffic_matrix/\(hour.path)/part-00000.parquet"
            let path = "\(tableRoot)/\(rel)"
            guard FileManager.default.fileExists(atPath: path) else {
                warnings.append("hour \(hour.path) has no traffic_matrix table yet")
                continue
            }
            inputs += try SegmentInputs.fingerprint(root: tableRoot, host: "tables", files: [path])
            let cols: [ColumnData]
            do {
                let r = try ParquetFileReader(path: path)
                guard r.schema == PipelineTables.trafficMatrix.parquetSchema else {
                    throw PipelineError.missingInput("\(rel) does not have the traffic_matrix v\(PipelineTables.trafficMatrix.version) schema")
                }
                cols = try r.readAll()
            } catch let e as PipelineError {
                throw e
            } catch {
                warnings.append("\(rel) unreadable, skipped: \(error)")
                continue
            }
            guard case .int64(let buckets) = cols[0].values else { continue }
            func strings(_ i: Int) -> [String] {
                if case .byteArray(let b) = cols[i].values { return b.strings }
                return []
            }
            func ints(_ i: Int) -> [Int64] {
                if case .int64(let v) = cols[i].values { return v }
                return []
            }
            let s = (2...8).map(strings)
            let bytes = ints(9), packets = ints(10), flows = ints(12), calls = ints(13), observed = ints(14), lost = ints(15)
            let shared = ints(16)
            // payload_bytes is optional: its values are stored for the valid rows only.
            let payloadValues = ints(11), payloadValid = cols[11].validity ?? [Bool](repeating: true, count: buckets.count)
            var payloadNext = 0
            for r in 0..<buckets.count {
                var payload: UInt64?
                if payloadValid[r] { payload = UInt64(payloadValues[payloadNext]); payloadNext += 1 }
                let b = partition.startNanos + ((buckets[r] - partition.startNanos) / width) * width
                let cell = TrafficCell(bytes: UInt64(bytes[r]), packets: UInt64(packets[r]), payloadBytes: payload, flows: UInt64(flows[r]),
                                       calls: UInt64(calls[r]))
                rows.merge(Key(bucket: b, parts: s.map { $0[r] }),
                           Row(cell: cell, completeness: Completeness(observed: UInt64(observed[r]), lost: UInt64(lost[r]),
                                                          shared: UInt64(shared[r]))))
            }
        }

        var buckets: [Int64] = [], text = [ByteArrays](repeating: ByteArrays(), count: 7)
        var bytes: [Int64] = [], packets: [Int64] = [], flows: [Int64] = [], calls: [Int64] = []
        var payload: [Int64] = [], payloadValid: [Bool] = []
        var observed: [Int64] = [], lost: [Int64] = [], shared: [Int64] = [], ratio: [Double] = []
        for (k, r) in rows.sortedRows() {
            buckets.append(k.bucket)
            for i in 0..<7 { text[i].append(k.parts[i]) }
            bytes.append(Int64(clamping: r.cell.bytes)); packets.append(Int64(clamping: r.cell.packets))
            payloadValid.append(r.cell.payloadBytes != nil)
            if let p = r.cell.payloadBytes { payload.append(Int64(clamping: p)) }
            flows.append(Int64(clamping: r.cell.flows)); calls.append(Int64(clamping: r.cell.calls))
            observed.append(Int64(clamping: r.completeness.observed)); lost.append(Int64(clamping: r.completeness.lost))
            shared.append(Int64(clamping: r.completeness.shared))
            ratio.append(r.completeness.ratio)
        }
        let columns = [ColumnData(.int64(buckets)), ColumnData(.int32([Int32](repeating: Int32(rollup.bucketSeconds), count: buckets.count)))]
            + text.map { ColumnData(.byteArray($0)) }
            + [bytes, packets].map { ColumnData(.int64($0)) } + [ColumnData(.int64(payload), validity: payloadValid)]
            + [flows, calls, observed, lost, shared].map { ColumnData(.int64($0)) } + [ColumnData(.double(ratio))]

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
                              inputs: inputs, tables: [.init(table: Self.table.name, path: rel, rows: buckets.count, scope: "merged")],
                              hosts: [:], warnings: warnings), at: manifestPath)
        for w in warnings { logger.warning("\(w)") }
        return manifest
    }
}
