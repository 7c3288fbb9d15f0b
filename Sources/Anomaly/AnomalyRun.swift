import CCompression
import Foundation
import Logging
import Pipeline

/// An `anomaly` pipeline run over one hour partition: the merged hourly tables of the partition
/// and its trailing window → detectors → ranking over the call graph → `anomaly_candidates`,
/// committed like every other table (staging, markers, journal, manifest).
public struct AnomalyRun {
    public let spec: PipelineSpec
    public let tableRoot: String
    public let partition: Partition
    public var logger: Logger

    public init(spec: PipelineSpec, tableRoot: String, partition: Partition, logger: Logger) {
        self.spec = spec
        self.tableRoot = tableRoot
        self.partition = partition
        self.logger = logger
    }

    public struct Summary {
        public var manifest: Manifest
        public var candidates: [Candidate]
        public var bucketSeconds: Int
    }

    public func execute() throws(PipelineError) -> Summary {
        guard spec.kind == .anomaly else { throw .config("pipeline \(spec.name) is not of kind anomaly") }
        let detect = spec.detect ?? PipelineSpec.DetectParameters()
        let rank = spec.rank ?? PipelineSpec.RankParameters()
        let publisher = DerivedTablePublisher(spec: spec, tableRoot: tableRoot, partition: partition)
        return try publisher.locked { () throws(PipelineError) -> Summary in try detectAndRank(detect, rank, publisher) }
    }

    private func detectAndRank(_ detect: PipelineSpec.DetectParameters, _ rank: PipelineSpec.RankParameters,
                               _ publisher: DerivedTablePublisher) throws(PipelineError) -> Summary {
        let loaded = try TableInputs(tableRoot: tableRoot, partition: partition).load(baselineBuckets: detect.baselineBuckets)
        let inputs = try publisher.fingerprint(loaded.files)
        let o = loaded.observations
        let findings = Detector(parameters: detect).findings(o)
        var candidates = Ranking(parameters: rank).rank(findings, observations: o, partition: partition)
        var warnings = loaded.warnings
        if candidates.count > rank.maxCandidates {
            warnings.append("\(candidates.count - rank.maxCandidates) candidates below rank \(rank.maxCandidates) not written (rank.max_candidates)")
            candidates = Array(candidates.prefix(rank.maxCandidates))
        }
        let manifest = try publisher.publish(table: AnomalyTable.schema, columns: AnomalyTable.columns(candidates, bucketSeconds: o.bucketSeconds),
                                             rows: candidates.count, definition: definition(detect, rank), inputs: inputs, warnings: warnings)
        for w in warnings { logger.warning("\(w)") }
        return Summary(manifest: manifest, candidates: candidates, bucketSeconds: o.bucketSeconds)
    }

    /// CRC32C (hex) of the parameters, so `--if-changed`-style checks see a changed definition.
    func definition(_ d: PipelineSpec.DetectParameters, _ r: PipelineSpec.RankParameters) -> String {
        let text = "\(spec.name)|anomaly-v\(AnomalyTable.schema.version)|\(d)|\(r)|\(spec.write.compression)|\(spec.write.zstdLevel)"
        let crc = text.utf8CString.withUnsafeBufferPointer { ccompression_crc32c(0, $0.baseAddress, $0.count - 1) }
        return String(format: "%08x", crc)
    }
}
