import Aggregates
import Enrichment
import Foundation
import Parquet
import Pipeline
import Report

/// Writing and reading `anomaly_candidates`, declared once as `AnomalyCandidates`
/// (Sources/Pipeline/Tables/AnomalyCandidates.swift; schemas/tables/anomaly_candidates.{json,md}).
public enum AnomalyTable {
    public static var schema: TableSchema { AnomalyCandidates.schema }

    /// The columns of `candidates`, in schema order (rows by first bucket, then rank).
    static func columns(_ candidates: [Candidate], bucketSeconds: Int) -> [ColumnData] {
        let bucketNanos = Int64(bucketSeconds) * 1_000_000_000
        var rows = Accumulator<AnomalyCandidates.Key, Row<AnomalyCandidates.Cell>>()
        for c in candidates {
            var cell = AnomalyCandidates.Cell()
            cell.bucketEnd = c.lastBucket + bucketNanos
            cell.entityKind = c.entity.kind.rawValue
            cell.entity = c.entity.name
            cell.service = c.entity.edgeEnds?.callee ?? c.entity.name
            cell.metric = c.metric
            cell.observer = c.observer
            cell.observed = c.observed
            cell.baseline = c.baseline
            cell.unit = c.unit
            cell.score = c.score
            cell.onset = c.onset
            cell.support = c.support
            cell.explains = c.explains.map(\.description).joined(separator: "; ")
            cell.explainedBy = c.explainedBy.map(\.description).joined(separator: "; ")
            cell.network = c.network.joined(separator: "; ")
            cell.evidence = Sentences.sentence(c, bucketSeconds: bucketSeconds)
            cell.completeness = c.completeness
            rows.merge(AnomalyCandidates.Key(bucket: c.firstBucket, rank: Int32(c.rank)), Row(cell: cell, completeness: Completeness()))
        }
        let names = NamePool()
        return AnomalyCandidates.columns(rows, names: names, ranks: NameRanks(names), bucketSeconds: bucketSeconds)
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
