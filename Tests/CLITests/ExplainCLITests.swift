import Foundation
import TestSupport
import Testing

/// `redline run pipelines/anomaly.yaml` and `redline explain`, end to end through the executable,
/// on the anomaly replay fixture (Tests/AnomalyTests/Fixtures/delay-pricing).
@Suite("redline explain")
struct ExplainCLITests {
    static let fixture = Prerequisites.packageRoot + "/Tests/AnomalyTests/Fixtures/delay-pricing"
    static let partition = "date=2026-11-30/hour=09"

    @Test("run writes anomaly_candidates, explain prints them as ranked sentences; missing partitions and bad options are clear errors")
    func runAndExplain() throws {
        let out = try makeScratchDirectory("redline-explain")
        defer { try? FileManager.default.removeItem(at: out) }
        let hourly = try InspectCLITests.redline("run", Self.fixture + "/hourly.yaml", "--partition", Self.partition, "--out", out.path, "--quiet")
        try #require(hourly.status == 0, "\(hourly.stderr)")
        let anomaly = try InspectCLITests.redline("run", Self.fixture + "/anomaly.yaml", "--partition", Self.partition, "--out", out.path)
        try #require(anomaly.status == 0, "\(anomaly.stderr)")
        #expect(anomaly.stdout.contains("redline explain --tables \(out.path) --partition \(Self.partition)"))

        let explain = try InspectCLITests.redline("explain", "--tables", out.path, "--partition", Self.partition, "--top", "2")
        #expect(explain.status == 0, "\(explain.stderr)")
        let lines = explain.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("\(Self.partition): ") == true && lines.first?.hasSuffix("most likely cause first") == true)
        #expect(lines.count >= 3 && lines[1].hasPrefix("1. pricing: ") && lines[2].hasPrefix("2. "), "\(explain.stdout)")

        let missing = try InspectCLITests.redline("explain", "--tables", out.path, "--partition", "date=2026-11-30/hour=08")
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("no anomaly_candidates for date=2026-11-30/hour=08 under \(out.path)"), "\(missing.stderr)")
        let noRoot = try InspectCLITests.redline("explain", "--tables", out.path + "/nowhere", "--partition", Self.partition)
        #expect(noRoot.status == 3 && noRoot.stderr.contains("no table root at \(out.path)/nowhere"), "\(noRoot.stderr)")
        let noTables = try InspectCLITests.redline("run", Self.fixture + "/anomaly.yaml", "--partition", "date=2026-11-30/hour=08",
                                                   "--out", out.path)
        #expect(noTables.status == 3 && noTables.stderr.contains("no red_service, red_edge, tcp_health for date=2026-11-30/hour=08"),
                "\(noTables.stderr)")
        let usage = try InspectCLITests.redline("explain", "--tables", out.path, "--partition", "date=2026-11-30")
        #expect(usage.status == 2 && usage.stderr.contains("is not date=YYYY-MM-DD/hour=HH"), "\(usage.stderr)")
    }
}
