@testable import Anomaly
import Foundation
import Parquet
import Pipeline
import TestSupport
import Testing
import YAMLConfig

/// pipelines/anomaly.yaml against schemas/pipeline-v1.md, and anomaly_candidates' declaration
/// against schemas/tables/anomaly_candidates.{json,md}.
@Suite("Anomaly pipeline file and table spec")
struct AnomalySpecTests {
    static let root = URL(fileURLWithPath: Prerequisites.packageRoot)

    @Test("the shipped pipelines/anomaly.yaml loads with every detect and rank parameter set")
    func shippedPipelineLoads() throws {
        let spec = try PipelineSpec.load(path: Self.root.appendingPathComponent("pipelines/anomaly.yaml").path)
        #expect(spec.kind == .anomaly)
        #expect(spec.defaultPartition == .lastClosedHour)
        let text = try String(contentsOf: Self.root.appendingPathComponent("pipelines/anomaly.yaml"), encoding: .utf8)
        let doc = try String(contentsOf: Self.root.appendingPathComponent("schemas/pipeline-v1.md"), encoding: .utf8)
        for key in ["baseline_buckets", "min_baseline_buckets", "threshold", "min_alarm_buckets", "latency_floor_ns", "min_requests", "min_tail_calls", "min_errors", "min_events",
                    "error_ratio_floor", "latency_relative_floor", "event_rate_floor", "rate_log2_threshold", "max_candidates",
                    "explain_share"] {
            #expect(text.contains("\(key):"), "pipelines/anomaly.yaml does not set \(key)")
            #expect(doc.contains("`\(key)`"), "schemas/pipeline-v1.md does not document \(key)")
        }
        #expect(spec.detect?.threshold == 6)
    }

    func parse(_ stages: String) throws(ConfigError) -> PipelineSpec {
        try PipelineSpec.parse(yaml: "version: 1\nname: a\nkind: anomaly\noutput: {tables: /out}\nstages:\n\(stages)",
                               file: "a.yaml", baseDirectory: "/base")
    }

    @Test("bad anomaly stages are refused with file, line and key")
    func badStages() throws {
        let ok = try parse("  - stage: detect\n    threshold: 4.5\n  - stage: rank\n  - stage: write\n")
        #expect(ok.detect?.threshold == 4.5)
        #expect(ok.rank == PipelineSpec.RankParameters())
        #expect(throws: ConfigError.self) { try parse("  - stage: rank\n  - stage: detect\n  - stage: write\n") }
        do {
            _ = try parse("  - stage: detect\n    threshold: lots\n  - stage: rank\n  - stage: write\n")
            Issue.record("a non-number threshold was accepted")
        } catch {
            #expect(error.description.contains("a.yaml:7"), "\(error)")
            #expect(error.description.contains("expected a number"), "\(error)")
        }
        do {
            _ = try parse("  - stage: detect\n    min_baseline_buckets: 100\n    baseline_buckets: 20\n  - stage: rank\n  - stage: write\n")
            Issue.record("a cold-start minimum above the window was accepted")
        } catch {
            #expect(error.description.contains("min_baseline_buckets"), "\(error)")
        }
        #expect(throws: ConfigError.self) { try parse("  - stage: detect\n    thresold: 4\n  - stage: rank\n  - stage: write\n") }
    }

    @Test("anomaly_candidates: the declaration equals schemas/tables/anomaly_candidates.json and the .md names every column")
    func tableSpec() throws {
        let dir = Self.root.appendingPathComponent("schemas/tables")
        let loaded = try TableSchema(json: Data(contentsOf: dir.appendingPathComponent("anomaly_candidates.json")))
        #expect(AnomalyTable.schema.differences(from: loaded).isEmpty, "\(AnomalyTable.schema.differences(from: loaded))")
        let md = try String(contentsOf: dir.appendingPathComponent("anomaly_candidates.md"), encoding: .utf8)
        for c in AnomalyTable.schema.columns {
            #expect(md.contains("`\(c.name)`"), "anomaly_candidates.md does not name `\(c.name)`")
        }
        #expect(md.contains("(version \(AnomalyTable.schema.version))"))
    }
}
