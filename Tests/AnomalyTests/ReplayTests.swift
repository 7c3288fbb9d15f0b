@testable import Anomaly
import Foundation
import Logging
import Pipeline
import TestSupport
import Testing

/// The lab half of the detector tests: a captured faulty lab run (Fixtures/delay-pricing, see its
/// README) goes through the hourly and the anomaly pipelines, and the ranking is checked against
/// the run's own ground truth (ground-truth/faults.json), not against numbers written here.
@Suite("Anomaly replay: a captured lab run with a timed fault, ranked against its ground truth")
struct ReplayTests {
    static let fixture = Prerequisites.packageRoot + "/Tests/AnomalyTests/Fixtures/delay-pricing"

    struct Truth: Decodable {
        struct Event: Decodable {
            var fault: Bool
            var kind: String
            var target: String
            var target_kind: String
            var onset_unix_ns: Int64
            var end_unix_ns: Int64
        }
        var load_start_unix_ns: Int64
        var events: [Event]
    }

    struct Replay {
        var out: String
        var partition: Partition
        var summary: AnomalyRun.Summary
        var truth: Truth
    }

    /// Runs both pipelines into a fresh table root.
    static func replay() throws -> Replay {
        let truth = try JSONDecoder().decode(Truth.self, from: Data(contentsOf: URL(fileURLWithPath: fixture + "/ground-truth/faults.json")))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-replay-\(UUID().uuidString)").path
        let partition = Partition.hour(containing: truth.load_start_unix_ns)
        let logger = Logger(label: "replay")
        let hourly = try PipelineSpec.load(path: fixture + "/hourly.yaml")
        _ = try HourlyRun(spec: hourly, segmentRoot: fixture + "/segments", metadataDir: fixture + "/metadata", tableRoot: out,
                          partition: partition, ifChanged: false, logger: logger).execute()
        let anomaly = try PipelineSpec.load(path: fixture + "/anomaly.yaml")
        let summary = try AnomalyRun(spec: anomaly, tableRoot: out, partition: partition, logger: logger).execute()
        return Replay(out: out, partition: partition, summary: summary, truth: truth)
    }

    @Test("the injected fault's service ranks first, within 2 buckets of onset; callers are explained by it; the load change raises nothing")
    func rankingMatchesGroundTruth() throws {
        let r = try Self.replay()
        defer { try? FileManager.default.removeItem(atPath: r.out) }
        let faults = r.truth.events.filter(\.fault)
        try #require(faults.count == 1)
        let fault = faults[0]
        let bucket = Int64(r.summary.bucketSeconds) * 1_000_000_000
        let c = r.summary.candidates
        let top = try #require(c.first)
        #expect(top.entity == Entity(.service, fault.target), "\(c.map(\.entity))")
        #expect(top.metric == "p50" || top.metric == "p99")
        // Detected within 2 buckets of the fault's onset, never before the bucket holding it.
        #expect(top.onset >= fault.onset_unix_ns - bucket && top.onset <= fault.onset_unix_ns + 2 * bucket,
                "onset \(top.onset) vs fault \(fault.onset_unix_ns)")
        // Every caller edge into the faulty service that alarmed is explained by it, and ranks below it.
        let edges = c.filter { $0.entity.edgeEnds?.callee == fault.target }
        #expect(!edges.isEmpty)
        for e in edges { #expect(e.explainedBy.contains(top.entity) && e.rank > top.rank, "\(e.entity)") }
        // No candidate outside the fault: the fault-free stretch and the load change (rate ×2) before
        // the fault raise none, and nothing alarms after the fault ends.
        let loadChanges = r.truth.events.filter { !$0.fault }
        #expect(!loadChanges.isEmpty)
        for x in c {
            #expect(x.onset >= fault.onset_unix_ns - bucket && x.onset <= fault.end_unix_ns, "\(x.entity) since \(x.onset)")
        }
        #expect(!c.contains { $0.entity.kind == .host || $0.entity.kind == .dcLink }, "a delay in a service is not a network fault")
    }

    @Test("redline explain's sentences come from the committed table; a re-run writes the same manifest; missing inputs are clear errors")
    func explainAndErrors() throws {
        let r = try Self.replay()
        defer { try? FileManager.default.removeItem(atPath: r.out) }
        let rows = try AnomalyTable.read(tableRoot: r.out, partition: r.partition)
        #expect(rows.map(\.rank) == Array(1...r.summary.candidates.count))
        let target = try #require(r.truth.events.first(where: \.fault)?.target)
        #expect(rows.first?.evidence.hasPrefix("\(target): p") == true, "\(rows.first?.evidence ?? "")")
        #expect(rows.first?.evidence.contains("explains frontend's latency on frontend→\(target)") == true)
        #expect(rows.first?.evidence.hasSuffix("no network evidence") == true)

        let again = try AnomalyRun(spec: try PipelineSpec.load(path: Self.fixture + "/anomaly.yaml"), tableRoot: r.out, partition: r.partition,
                                   logger: Logger(label: "replay")).execute()
        #expect(again.manifest.runID == r.summary.manifest.runID)

        let earlier = Partition(day: r.partition.day - 1, hour: 0)
        #expect(throws: PipelineError.missingInput("no anomaly_candidates for \(earlier.path) under \(r.out) "
                + "(make it with: redline run pipelines/anomaly.yaml --partition \(earlier.path) --out \(r.out))")) {
            try AnomalyTable.read(tableRoot: r.out, partition: earlier)
        }
        do {
            _ = try AnomalyRun(spec: try PipelineSpec.load(path: Self.fixture + "/anomaly.yaml"), tableRoot: r.out, partition: earlier,
                               logger: Logger(label: "replay")).execute()
            Issue.record("an anomaly run over an hour without tables committed")
        } catch {
            #expect("\(error)".contains("no red_service, red_edge, tcp_health for \(earlier.path)"), "\(error)")
        }
    }
}
