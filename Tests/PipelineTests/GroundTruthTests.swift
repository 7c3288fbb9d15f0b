import Foundation
import Logging
import Parquet
@testable import Pipeline
import Testing

/// Replays the captured lab run (tools/lab/samples/capture) through the hourly
/// pipeline and holds it to the clients' own counts.
@Suite("Captured lab samples against the clients' ground truth")
struct GroundTruthTests {
    static let capture = packageRoot.appendingPathComponent("tools/lab/samples/capture").path

    @Test("requests per service (server-side view) equal wrk's and redis-benchmark's counts within 0.5 %")
    func requestsMatchTheClients() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("redline-gt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let partitionText = try String(contentsOfFile: Self.capture + "/PARTITION", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let partition = try #require(Partition(partitionText))
        let spec = try PipelineSpec.load(path: packageRoot.appendingPathComponent("pipelines/hourly.yaml").path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let summary = try HourlyRun(spec: spec, segmentRoot: Self.capture + "/segments", metadataDir: Self.capture + "/metadata",
                                    tableRoot: out, partition: partition, ifChanged: false, logger: logger).execute()
        #expect(summary.manifest.hosts.count == 4)
        #expect(summary.manifest.hosts.values.allSatisfy { $0.uncorrectable == 0 && $0.damagedFiles == 0 })

        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.capture + "/ground-truth/truth.json")))
            as! [String: [String: Any]]
        func clients(_ s: String) -> Double { (truth[s]!["requests"] as! NSNumber).doubleValue }
        func non2xx(_ s: String) -> Double { (truth[s]!["non_2xx_3xx"] as? NSNumber)?.doubleValue ?? 0 }

        let r = try ParquetFileReader(path: "\(out)/red_service/\(partition.path)/part-00000.parquet")
        let cols = try r.readAll()
        let names = r.schema.fields.map(\.name)
        guard case .byteArray(let svc) = cols[names.firstIndex(of: "service")!].values,
              case .byteArray(let obs) = cols[names.firstIndex(of: "observer")!].values,
              case .int64(let req) = cols[names.firstIndex(of: "requests")!].values,
              case .int64(let err) = cols[names.firstIndex(of: "errors")!].values else {
            Issue.record("red_service columns")
            return
        }
        var served: [String: (requests: Double, errors: Double)] = [:]
        for i in 0..<req.count where obs.string(i) == "server" {
            served[svc.string(i), default: (0, 0)].requests += Double(req[i])
            served[svc.string(i), default: (0, 0)].errors += Double(err[i])
        }
        func close(_ observed: Double?, _ expected: Double, _ what: String) {
            let o = observed ?? 0
            #expect(expected > 0 && abs(o - expected) / expected <= 0.005, "\(what): pipeline \(o), clients \(expected)")
        }
        close(served["catalog"]?.requests, clients("catalog"), "catalog (nginx) vs wrk")
        close(served["frontend"]?.requests, clients("frontend"), "frontend vs wrk")
        close(served["frontend"]?.errors, non2xx("frontend"), "frontend 5xx vs wrk's non-2xx")
        // The steady caller (tools/lab/steady.py; captures from before it existed have none) calls pricing directly.
        let steady = (truth["steady"]?["requests"] as? NSNumber)?.doubleValue ?? 0
        close(served["pricing"]?.requests, clients("frontend") + steady, "pricing: one call per frontend request, plus the steady caller's")
        close(served["cache"]?.requests, clients("cache") + clients("frontend") + steady, "cache vs redis-benchmark + one INCR per pricing call")
    }
}
