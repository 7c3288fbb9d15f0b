import Foundation
import Testing
@testable import Pipeline
import YAMLConfig

/// The package root, for the shipped pipeline files.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct PipelineSpecTests {
    @Test(arguments: ["hourly", "daily-traffic"])
    func shippedPipelinesLoad(_ name: String) throws {
        let path = packageRoot.appendingPathComponent("pipelines/\(name).yaml").path
        let spec = try PipelineSpec.load(path: path)
        #expect(spec.name == name)
        #expect(spec.tableRoot.hasPrefix(packageRoot.path), "relative paths resolve against the file's folder")
        if spec.kind == .hourly {
            #expect(spec.aggregate?.bucketSeconds == 60)
            #expect(spec.segmentRoot == packageRoot.appendingPathComponent("tools/lab/samples/segments").path)
        }
    }

    func parse(_ yaml: String) throws(ConfigError) -> PipelineSpec {
        try PipelineSpec.parse(yaml: yaml, file: "p.yaml", baseDirectory: "/base")
    }

    let minimal = """
        version: 1
        name: t
        kind: hourly
        inputs: {segments: seg}
        output: {tables: /out}
        stages:
          - stage: read
          - stage: correct-time
          - stage: enrich
          - stage: aggregate
          - stage: write

        """

    @Test func defaultsAndResolution() throws {
        let s = try parse(minimal)
        #expect(s.segmentRoot == "/base/seg")
        #expect(s.tableRoot == "/out")
        #expect(s.defaultPartition == .lastClosedHour)
        #expect(s.aggregate == PipelineSpec.AggregateParameters())
        #expect(s.write.compression == "zstd")
    }

    @Test func errorsNameTheLine() {
        let wrongOrder = minimal.replacingOccurrences(of: "  - stage: enrich\n  - stage: aggregate\n", with: "  - stage: aggregate\n  - stage: enrich\n")
        let e1 = #expect(throws: ConfigError.self) { try parse(wrongOrder) }
        #expect(e1?.message.contains("in this order") == true)
        #expect(e1?.line == 7)

        let badBucket = minimal.replacingOccurrences(of: "  - stage: aggregate\n", with: "  - stage: aggregate\n    bucket_seconds: 7\n")
        let e2 = #expect(throws: ConfigError.self) { try parse(badBucket) }
        #expect(e2?.line == 11)
        #expect(e2?.description == "p.yaml:11: stages[3].bucket_seconds: must divide 3600 so buckets never straddle an hour partition")

        let unknownStage = minimal.replacingOccurrences(of: "stage: enrich", with: "stage: enrichh")
        #expect((#expect(throws: ConfigError.self) { try parse(unknownStage) })?.message.contains("unknown stage 'enrichh'") == true)

        let badTable = minimal.replacingOccurrences(of: "  - stage: aggregate\n", with: "  - stage: aggregate\n    tables: [red_servce]\n")
        #expect((#expect(throws: ConfigError.self) { try parse(badTable) })?.message.contains("unknown table 'red_servce'") == true)

        let version = minimal.replacingOccurrences(of: "version: 1", with: "version: 3")
        #expect((#expect(throws: ConfigError.self) { try parse(version) })?.message.contains("unsupported pipeline version 3") == true)

        let typo = minimal.replacingOccurrences(of: "output:", with: "outptu:")
        #expect((#expect(throws: ConfigError.self) { try parse(typo) })?.message.contains("unknown key 'outptu'") == true)

        let syntax = minimal + "  - [\n"
        #expect((#expect(throws: ConfigError.self) { try parse(syntax) })?.message.contains("invalid YAML") == true)

        #expect(throws: ConfigError.self) { try PipelineSpec.load(path: "/nonexistent/p.yaml") }
    }
}

@Suite struct PartitionTests {
    @Test func parsesAndPrints() throws {
        let p = try #require(Partition("date=2026-11-24/hour=07"))
        #expect(p.path == "date=2026-11-24/hour=07")
        #expect(p.startNanos == 1_795_503_600 * 1_000_000_000)
        #expect(Partition("date=2024-02-29") != nil)
        for bad in ["date=2025-02-29", "date=2026-13-01/hour=00", "date=2026-11-24/hour=24", "date=2026-11-24/hour=7", "hour=01", "date=26-11-24", ""] {
            #expect(Partition(bad) == nil, "\(bad)")
        }
    }

    @Test func pathsUseTheUTCCalendar() {
        #expect(Partition(day: 0, hour: 0).path == "date=1970-01-01/hour=00")
        #expect(Partition.hour(containing: -1) == Partition(day: -1, hour: 23))
        #expect(Partition.hour(containing: 1_795_503_600 * 1_000_000_000 + 59) == Partition("date=2026-11-24/hour=07"))
    }

    @Test func lastClosedHourHonoursTheDelay() {
        // 2026-11-24 13:01:00 UTC with a 120 s delay: 12:00-13:00 is not closed until 13:02.
        let now = Partition("date=2026-11-24/hour=13")!.startNanos + 60 * 1_000_000_000
        #expect(Partition.lastClosed(hourly: true, nowNanos: now, delaySeconds: 120).path == "date=2026-11-24/hour=11")
        #expect(Partition.lastClosed(hourly: true, nowNanos: now, delaySeconds: 0).path == "date=2026-11-24/hour=12")
        #expect(Partition.lastClosed(hourly: false, nowNanos: now, delaySeconds: 0).path == "date=2026-11-23")
        #expect(Partition.hour(containing: -1).path == "date=1969-12-31/hour=23")
    }
}
