import Foundation
import Parquet
import Pipeline
import Report

/// The `anomaly_candidates` table, declared once: `schemas/tables/anomaly_candidates.json` is its
/// machine-readable form and `.md` its prose; `AnomalyTableTests` checks the three agree.
public enum AnomalyTable {
    public static let schema = TableSchema(
        name: "anomaly_candidates", version: 1,
        doc: "Ranked anomaly candidates of one hour partition: one row per alarmed entity, causes above their symptoms.",
        columns: [
            TableColumn("bucket_start", .timestampNanos, unit: "ns since Unix epoch, UTC",
                        doc: "Start of the first bucket of the partition in which the entity alarmed."),
            TableColumn("bucket_end", .timestampNanos, unit: "ns since Unix epoch, UTC",
                        doc: "End (exclusive) of the last bucket of the partition in which the entity alarmed."),
            TableColumn("bucket_seconds", .int32, unit: "s", doc: "Width of the buckets judged."),
            TableColumn("rank", .int32, doc: "1 = most likely cause; explained candidates rank below what explains them."),
            TableColumn("entity_kind", .string, doc: "service, edge, host or dc_link."),
            TableColumn("entity", .string, doc: "The service; the edge as caller→callee; the host; the link as dcA↔dcB."),
            TableColumn("service", .string, doc: "The service concerned: the service itself, an edge's callee, the host or link name for network candidates."),
            TableColumn("metric", .string, doc: "The strongest alarmed metric: error_ratio, p50, p99, request_rate, retransmits, resets, drops, drops:<reason>."),
            TableColumn("observer", .string, doc: "server (a service's own sockets), client (an edge seen by its caller), empty for TCP metrics."),
            TableColumn("observed", .double, doc: "The metric at the peak bucket, in unit."),
            TableColumn("baseline", .double, doc: "The trailing window's median, in unit."),
            TableColumn("unit", .string, doc: "ratio, ns, calls/s, events/s or packets/s."),
            TableColumn("score", .double, doc: "How far off at the peak bucket, in robust z units (deviation over 1.4826 × MAD or the metric's floor); the detector alarms at its threshold."),
            TableColumn("onset", .timestampNanos, unit: "ns since Unix epoch, UTC",
                        doc: "Start of the alarm episode: the first of the consecutive alarmed buckets, earlier partitions included."),
            TableColumn("support", .int64, doc: "Requests (RED metrics) or events (TCP metrics) in the peak bucket."),
            TableColumn("explains", .string, doc: "Candidates this one explains, kind:name, separated by '; '."),
            TableColumn("explained_by", .string, doc: "Candidates that explain this one, kind:name, separated by '; '; empty for a root."),
            TableColumn("network", .string, doc: "TCP trouble on the paths, hosts and links around the entity at the peak: kind:name metric +delta, separated by '; '; empty when none."),
            TableColumn("evidence", .string, doc: "The candidate as a sentence a person on call reads (what redline explain prints)."),
            TableColumn("completeness", .double, unit: "ratio 0..1", doc: "The lowest completeness of the rows behind the peak bucket."),
        ])

    /// The columns of `candidates`, in schema order.
    static func columns(_ candidates: [Candidate], bucketSeconds: Int) -> [ColumnData] {
        let bucketNanos = Int64(bucketSeconds) * 1_000_000_000
        var text = [ByteArrays](repeating: ByteArrays(), count: 5)
        var text2 = [ByteArrays](repeating: ByteArrays(), count: 5)
        for c in candidates {
            text[0].append(c.entity.kind.rawValue)
            text[1].append(c.entity.name)
            text[2].append(c.entity.edgeEnds?.callee ?? c.entity.name)
            text[3].append(c.metric)
            text[4].append(c.observer)
            text2[0].append(c.unit)
            text2[1].append(c.explains.map(\.description).joined(separator: "; "))
            text2[2].append(c.explainedBy.map(\.description).joined(separator: "; "))
            text2[3].append(c.network.joined(separator: "; "))
            text2[4].append(Sentences.sentence(c, bucketSeconds: bucketSeconds))
        }
        return [
            ColumnData(.int64(candidates.map(\.firstBucket))),
            ColumnData(.int64(candidates.map { $0.lastBucket + bucketNanos })),
            ColumnData(.int32([Int32](repeating: Int32(bucketSeconds), count: candidates.count))),
            ColumnData(.int32(candidates.map { Int32($0.rank) })),
        ] + text.map { ColumnData(.byteArray($0)) } + [
            ColumnData(.double(candidates.map(\.observed))),
            ColumnData(.double(candidates.map(\.baseline))),
            ColumnData(.byteArray(text2[0])),
            ColumnData(.double(candidates.map(\.score))),
            ColumnData(.int64(candidates.map(\.onset))),
            ColumnData(.int64(candidates.map(\.support))),
        ] + text2[1...].map { ColumnData(.byteArray($0)) } + [
            ColumnData(.double(candidates.map(\.completeness))),
        ]
    }
}

/// A committed `anomaly_candidates` row, as `redline explain` prints it.
public struct CandidateRow: Sendable, Equatable {
    public var rank: Int
    public var entityKind: String
    public var entity: String
    public var metric: String
    public var score: Double
    public var evidence: String
}

extension AnomalyTable {
    /// The partition's candidates by rank; a clear error when the table root, the partition or
    /// its table is missing or damaged.
    public static func read(tableRoot: String, partition: Partition) throws(PipelineError) -> [CandidateRow] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: tableRoot, isDirectory: &isDir), isDir.boolValue else {
            throw .missingInput("no table root at \(tableRoot)")
        }
        let dir = "\(tableRoot)/\(schema.name)/\(partition.path)"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".parquet") }.sorted()
        guard !names.isEmpty else {
            throw .missingInput("no \(schema.name) for \(partition.path) under \(tableRoot) "
                + "(make it with: redline run pipelines/anomaly.yaml --partition \(partition.path) --out \(tableRoot))")
        }
        var rows: [CandidateRow] = []
        do {
            for n in names {
                let f = try TableFile(path: "\(dir)/\(n)")
                guard f.rows > 0 else { continue }
                let rank = try f.int32s("rank"), kind = try f.strings("entity_kind"), entity = try f.strings("entity")
                let metric = try f.strings("metric"), score = try f.doubles("score"), evidence = try f.strings("evidence")
                for r in 0..<f.rows {
                    rows.append(CandidateRow(rank: Int(rank[r]), entityKind: kind[r], entity: entity[r], metric: metric[r],
                                             score: score[r], evidence: evidence[r]))
                }
            }
        } catch {
            throw .missingInput(error.description)
        }
        return rows.sorted { ($0.rank, $0.entity) < ($1.rank, $1.entity) }
    }
}
