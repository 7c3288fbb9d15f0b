import CRedlineABI
import Foundation
import Logging
import Parquet
@testable import Pipeline
import Segments
import Testing

/// End-to-end runs of the hourly pipeline over copies of the shipped sample segments.
@Suite("Hourly pipeline runs")
struct HourlyRunTests {
    static let samples = packageRoot.appendingPathComponent("tools/lab/samples").path
    static let partition = Partition("date=2026-01-02/hour=03")!

    /// A scratch copy of the samples (so tests can damage or add segments) and an output root.
    struct Scratch {
        let dir: String
        var segments: String { dir + "/segments" }
        var metadata: String { dir + "/metadata" }
        var out: String { dir + "/out" }

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-run-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: HourlyRunTests.samples + "/segments", toPath: segments)
            try FileManager.default.copyItem(atPath: HourlyRunTests.samples + "/metadata", toPath: metadata)
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }

        func run(hosts: [String] = ["*"], ifChanged: Bool = false, jobs: Int = 2) throws -> HourlyRun.Summary {
            var spec = try PipelineSpec.load(path: packageRoot.appendingPathComponent("pipelines/hourly.yaml").path)
            spec = spec.with(hosts: hosts)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            var run = HourlyRun(spec: spec, segmentRoot: segments, metadataDir: metadata, tableRoot: out,
                                partition: HourlyRunTests.partition, ifChanged: ifChanged, logger: logger)
            run.jobs = jobs
            return try run.execute()
        }

        func files() -> [String: Data] {
            var out: [String: Data] = [:]
            let e = FileManager.default.enumerator(atPath: self.out)!
            for case let p as String in e where p.hasSuffix(".parquet") || p.hasSuffix(".json") {
                out[p] = FileManager.default.contents(atPath: self.out + "/" + p)
            }
            return out
        }

        /// red_service requests by (service, observer) from the merged table.
        func requests(table: String = "red_service") throws -> [String: UInt64] {
            let r = try ParquetFileReader(path: "\(out)/\(table)/\(HourlyRunTests.partition.path)/part-00000.parquet")
            let cols = try r.readAll()
            let names = r.schema.fields.map(\.name)
            guard case .byteArray(let svc) = cols[names.firstIndex(of: table == "red_service" ? "service" : "callee")!].values,
                  case .byteArray(let obs) = cols[names.firstIndex(of: "observer")!].values,
                  case .int64(let req) = cols[names.firstIndex(of: "requests")!].values else { return [:] }
            var out: [String: UInt64] = [:]
            for i in 0..<req.count { out["\(svc.string(i))/\(obs.string(i))", default: 0] += UInt64(req[i]) }
            return out
        }
    }

    /// Calls in the sample segments by (callee service id, observer), counted straight from the records.
    static func callsInSegments(_ root: String) throws -> [String: UInt64] {
        let ids: [UInt32: String] = [10: "web", 11: "web-worker", 12: "web-cron", 20: "redis", 21: "redis-sentinel",
                                     22: "redis-exporter", 30: "api"]
        var out: [String: UInt64] = [:]
        let e = FileManager.default.enumerator(atPath: root)!
        for case let p as String in e where p.hasSuffix(".rls") || p.hasSuffix(".rls.open") {
            let reader = try SegmentReader(path: root + "/" + p)
            while let b = try reader.nextBlock() {
                guard b.recordType == .l7Call else { continue }
                _ = reader.withRecords(as: rl_l7_call.self) { calls in
                    for c in calls {
                        let server = c.side == UInt8(RL_SIDE_SERVER.rawValue)
                        let callee = ids[server ? c.local_service : c.peer_service] ?? "unknown"
                        out["\(callee)/\(server ? "server" : "client")", default: 0] += 1
                    }
                }
            }
        }
        return out
    }

    @Test("requests per service equal the call records in the segments; every table and manifest is written")
    func countsMatchTheSegments() throws {
        let s = try Scratch()
        defer { s.remove() }
        let summary = try s.run()
        #expect(!summary.skipped)
        let truth = try Self.callsInSegments(s.segments)
        #expect(!truth.isEmpty)
        #expect(try s.requests() == truth)
        #expect(try s.requests(table: "red_edge") == truth)
        let m = summary.manifest
        #expect(m.inputs.count == 5 && m.hosts.count == 2)
        #expect(Set(m.tables.map(\.table)) == Set(PipelineTables.all.map(\.name)))
        #expect(m.tables.filter { $0.scope == "merged" }.count == PipelineTables.all.count)
        #expect(m.tables.filter { $0.scope != "merged" }.count == 2 * PipelineTables.all.count)
        #expect(FileManager.default.fileExists(atPath: summary.manifestPath))
        #expect(m.hosts.values.allSatisfy { $0.uncorrectable == 0 })
        for t in m.tables {
            let r = try ParquetFileReader(path: s.out + "/" + t.path)
            #expect(Int(r.numRows) == t.rows, "\(t.path)")
        }
    }

    @Test("re-running a partition over the same inputs writes byte-identical files")
    func rerunIsByteIdentical() throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try s.run()
        let first = s.files()
        _ = try s.run()
        let second = s.files()
        #expect(first.count == 3 * PipelineTables.all.count + 1, "merged and two hosts' partials of every table, and the manifest")
        #expect(first == second)
    }

    @Test("--if-changed skips an unchanged partition and re-runs it when a late segment arrives")
    func lateSegmentRerunsThePartition() throws {
        let s = try Scratch()
        defer { s.remove() }
        let before = try s.run(ifChanged: true)
        #expect(!before.skipped)
        #expect(try s.run(ifChanged: true).skipped)
        // A late segment: the collector of web-1 sealed one more window of the hour.
        let dir = s.segments + "/host=web-1.dc1/date=2026-01-02/hour=03"
        try FileManager.default.copyItem(atPath: dir + "/20260102T030400Z-000000.rls", toPath: dir + "/20260102T030400Z-000001.rls")
        let after = try s.run(ifChanged: true)
        #expect(!after.skipped)
        #expect(after.manifest.inputs.count == before.manifest.inputs.count + 1)
        let total = { (m: Manifest) in m.hosts.values.reduce(UInt64(0)) { $0 + $1.aggregated } }
        #expect(total(after.manifest) > total(before.manifest))
        #expect(try s.requests() == Self.callsInSegments(s.segments))
    }

    @Test("a damaged segment yields its valid blocks, a manifest warning, and completeness below 1")
    func damagedSegment() throws {
        let s = try Scratch()
        defer { s.remove() }
        let file = s.segments + "/host=redis-1.dc2/date=2026-01-02/hour=03/20260102T030500Z-000000.rls"
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
        let h = FileHandle(forWritingAtPath: file)!
        try h.truncate(atOffset: UInt64(size / 2))
        try h.close()
        let summary = try s.run()
        let m = summary.manifest
        #expect(m.hosts["redis-1.dc2"]?.damagedFiles == 1)
        #expect(m.warnings.contains { $0.contains("20260102T030500Z-000000.rls") })
        let r = try ParquetFileReader(path: "\(s.out)/red_service/\(Self.partition.path)/part-00000.parquet")
        let cols = try r.readAll()
        guard case .double(let completeness) = cols[r.schema.fields.firstIndex { $0.name == "completeness" }!].values else {
            Issue.record("no completeness column")
            return
        }
        #expect(completeness.contains { $0 < 1 })
        // Still exactly what the valid blocks hold: reading the damaged file stops where the pipeline stopped.
        let served = try s.requests()["redis/server"] ?? 0
        #expect(served > 0 && served < 1800)
    }

    @Test("partials of a host that is no longer an input are removed on re-run")
    func staleHostPartialsAreRemoved() throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try s.run()
        let stale = "\(s.out)/partials/red_service/\(Self.partition.path)/host=redis-1.dc2/part-00000.parquet"
        #expect(FileManager.default.fileExists(atPath: stale))
        let m = try s.run(hosts: ["web-*"]).manifest
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(m.hosts.keys.sorted() == ["web-1.dc1"])
        #expect(!m.tables.contains { $0.path.contains("redis-1.dc2") })
    }

    @Test("a commit journal left by a killed run is finished by the next run: folders swapped whole, old folders removed")
    func interruptedCommitIsFinished() throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try s.run()
        // Simulate a run killed after its journal and the first of two folder swaps.
        let staging = s.out + "/.staging/killed"
        let man = staging + "/manifest.json"
        func folder(_ root: String, _ name: String, run: String, content: String) throws {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: "\(root)/\(name)/part-00000.parquet", contents: Data(content.utf8))
            FileManager.default.createFile(atPath: "\(root)/\(name)/\(PartitionCommit.markerName)", contents: Data("\(run)\n".utf8))
        }
        try folder(s.out, "x1", run: "r-new", content: "new x1")        // swapped in
        try folder(staging, "x1", run: "r-old", content: "old x1")      // what the swap moved out
        try folder(s.out, "x2", run: "r-old", content: "old x2")        // not swapped yet
        try folder(staging, "x2", run: "r-new", content: "new x2")
        FileManager.default.createFile(atPath: man, contents: Data("{}".utf8))
        let journal = CommitJournal(runID: "r-new",
                                    swaps: ["x1", "x2"].map { .init(from: "\(staging)/\($0)", to: "\(s.out)/\($0)") },
                                    removals: [], manifest: .init(from: man, to: s.out + "/_manifests/killed.json"),
                                    staging: staging, folderMode: 0o750)
        try JSONEncoder().encode(journal).write(to: URL(fileURLWithPath: CommitJournal.path(tableRoot: s.out)))
        _ = try s.run()
        #expect(FileManager.default.contents(atPath: s.out + "/x1/part-00000.parquet") == Data("new x1".utf8))
        #expect(FileManager.default.contents(atPath: s.out + "/x2/part-00000.parquet") == Data("new x2".utf8))
        #expect(PartitionCommit.runID(ofFolder: s.out + "/x2") == "r-new")
        #expect(FileManager.default.fileExists(atPath: s.out + "/_manifests/killed.json"))
        #expect(!FileManager.default.fileExists(atPath: CommitJournal.path(tableRoot: s.out)))
        #expect(!FileManager.default.fileExists(atPath: staging))
    }

    @Test("a second run on the same table root fails at once with the lock error")
    func lockIsExclusive() throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.createDirectory(atPath: s.out, withIntermediateDirectories: true)
        let held = try TableRootLock(tableRoot: s.out)
        defer { held.release() }
        #expect(throws: PipelineError.self) { try s.run() }
        do { _ = try s.run() } catch let e as PipelineError { #expect(e.exitCode == 4) }
    }

    @Test("a missing segment root is a clear input error")
    func missingInput() throws {
        let s = try Scratch()
        defer { s.remove() }
        try FileManager.default.removeItem(atPath: s.segments)
        do {
            _ = try s.run()
            Issue.record("expected an error")
        } catch let e as PipelineError {
            #expect(e.exitCode == 3)
            #expect(e.description.contains("does not exist"))
        }
    }

    @Test("the daily rollup sums a day's hourly traffic_matrix")
    func dailyRollup() throws {
        let s = try Scratch()
        defer { s.remove() }
        _ = try s.run()
        let spec = try PipelineSpec.load(path: packageRoot.appendingPathComponent("pipelines/daily-traffic.yaml").path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let m = try DailyTrafficRun(spec: spec, tableRoot: s.out, partition: Partition("date=2026-01-02")!, logger: logger).execute()
        #expect(m.warnings.count == 23, "23 hours have no table yet")
        func sums(_ path: String) throws -> (bytes: Int64, calls: Int64) {
            let r = try ParquetFileReader(path: path)
            let cols = try r.readAll()
            let names = r.schema.fields.map(\.name)
            guard case .int64(let b) = cols[names.firstIndex(of: "bytes")!].values,
                  case .int64(let c) = cols[names.firstIndex(of: "calls")!].values else { return (0, 0) }
            return (b.reduce(0, +), c.reduce(0, +))
        }
        let hourly = try sums("\(s.out)/traffic_matrix/\(Self.partition.path)/part-00000.parquet")
        let daily = try sums("\(s.out)/traffic_matrix_daily/date=2026-01-02/part-00000.parquet")
        #expect(hourly.bytes > 0 && hourly == daily)
    }
}

extension PipelineSpec {
    func with(hosts: [String]) -> PipelineSpec {
        PipelineSpec(name: name, kind: kind, description: description, segmentRoot: segmentRoot, metadataDir: metadataDir,
                     tableRoot: tableRoot, hosts: hosts, defaultPartition: defaultPartition,
                     closeDelaySeconds: closeDelaySeconds, stages: stages)
    }
}
