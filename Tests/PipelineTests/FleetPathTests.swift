import Foundation
import Pipeline
import Testing
import TestSupport

/// The fleet path (schemas/pipeline-v1.md, "Fleet path"; README "Install and run in
/// production"): every host of the shipped lab capture writes its own partials into its own
/// folder with `redline run --partials-only --hosts H`; the folders are gathered into one
/// fleet root; `redline run --merge-only` and `pipelines/spark/run_merge.py` each merge them.
/// Both must give the single-machine run's tables.
@Suite("Fleet path: per-host partials-only runs, merged by redline --merge-only and by Spark, equal the single-machine run")
struct FleetPathTests {
    typealias Support = SparkMergeEquivalenceTests
    static let capture = Support.packageRoot + "/tools/lab/samples/capture"
    static let hosts = ["h11", "h12", "h21", "h22"]

    static func partition() throws -> String {
        try String(contentsOfFile: capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `redline run pipelines/hourly.yaml` over the capture with `extra` arguments.
    static func redlineRun(_ out: URL, _ extra: [String]) throws -> ProcessOutput {
        try runToCompletion(try builtProduct("redline"),
                        ["run", Support.packageRoot + "/pipelines/hourly.yaml", "--partition", try partition(),
                         "--segments", capture + "/segments", "--metadata", capture + "/metadata", "--out", out.path, "--quiet"] + extra, directory: Support.packageRoot)
    }

    /// The single-machine run, one partials-only folder per host, and a fleet root holding
    /// every host's partials and partials manifests (as a fleet's shared store would).
    struct Layout { var single: URL; var fleet: URL }

    static func layout(in dir: URL, hosts: [String] = hosts) throws -> Layout {
        let fm = FileManager.default
        let single = dir.appendingPathComponent("single")
        let r = try redlineRun(single, [])
        guard r.status == 0 else { throw Support.Failure.failed("single-machine run exited \(r.status): \(r.stderr)") }
        let fleet = dir.appendingPathComponent("fleet")
        for host in hosts {
            let own = dir.appendingPathComponent("host-\(host)")
            let h = try redlineRun(own, ["--partials-only", "--hosts", host])
            guard h.status == 0 else { throw Support.Failure.failed("partials-only run of \(host) exited \(h.status): \(h.stderr)") }
            let written = try fm.subpathsOfDirectory(atPath: own.path).filter { $0.hasSuffix(".parquet") }
            // Only this host's partials, no merged table.
            guard !written.isEmpty, written.allSatisfy({ $0.hasPrefix("partials/") && $0.contains("/host=\(host)/") }) else {
                throw Support.Failure.failed("partials-only run of \(host) wrote \(written)")
            }
            for sub in try fm.subpathsOfDirectory(atPath: own.path) where sub.hasPrefix("partials/") || sub.hasPrefix("_manifests/") {
                var isDir: ObjCBool = false
                fm.fileExists(atPath: own.appendingPathComponent(sub).path, isDirectory: &isDir)
                guard !isDir.boolValue else { continue }
                let dst = fleet.appendingPathComponent(sub)
                try fm.createDirectory(at: dst.deletingLastPathComponent(), withIntermediateDirectories: true)
                try fm.copyItem(at: own.appendingPathComponent(sub), to: dst)
            }
        }
        return Layout(single: single, fleet: fleet)
    }

    static func file(_ root: URL, _ table: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent("\(table)/\(try partition())/part-00000.parquet"))
    }

    @Test("redline --merge-only over the gathered per-host partials writes byte-identical tables and the same host counters")
    func swiftMergeOnlyEqualsSingleRun() throws {
        let dir = try Support.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout(in: dir)
        let p = try Self.partition()
        for table in Support.tables {
            for host in Self.hosts {
                let rel = "partials/\(table)/\(p)/host=\(host)/part-00000.parquet"
                #expect(try Data(contentsOf: l.fleet.appendingPathComponent(rel)) == Data(contentsOf: l.single.appendingPathComponent(rel)),
                        "\(rel): a host's own run wrote a different partial")
            }
        }
        let m = try Self.redlineRun(l.fleet, ["--merge-only"])
        #expect(m.status == 0, "\(m.stderr)")
        // Every table, the chain tables' join (call_chains' partials read back as observations) included.
        for table in PipelineTables.all.map(\.name) {
            #expect(try Self.file(l.fleet, table) == Self.file(l.single, table), "\(table) differs from the single-machine run")
        }
        struct Manifest: Decodable {
            struct Input: Decodable { var host: String; var path: String }
            var inputs: [Input]; var hosts: [String: [String: Int]]; var watermarkUTCNanos: Int64?
        }
        func manifest(_ root: URL) throws -> Manifest {
            try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: root.appendingPathComponent("_manifests/hourly/\(p).json")))
        }
        let (single, merged) = (try manifest(l.single), try manifest(l.fleet))
        #expect(merged.hosts == single.hosts && merged.hosts.count == 4, "host counters did not come along with the partials")
        #expect(merged.watermarkUTCNanos == single.watermarkUTCNanos)
        #expect(merged.inputs.count == 4 * PipelineTables.all.count && merged.inputs.allSatisfy { $0.path.hasPrefix("partials/") })

        // The comparison can fail: without one host the merge is not the single run's.
        let partial = dir.appendingPathComponent("three-hosts")
        try FileManager.default.copyItem(at: l.fleet.appendingPathComponent("partials"), to: partial.appendingPathComponent("partials"))
        let three = try Self.redlineRun(partial, ["--merge-only", "--hosts", "h11,h12,h21"])
        #expect(three.status == 0, "\(three.stderr)")
        #expect(try Self.file(partial, "red_service") != Self.file(l.single, "red_service"))

        // A host with a table missing is an input error (exit 3), never a smaller merge.
        try FileManager.default.removeItem(at: partial.appendingPathComponent("partials/tcp_drops/\(p)/host=h22"))
        let broken = try Self.redlineRun(partial, ["--merge-only"])
        #expect(broken.status == 3)
        #expect(broken.stderr.contains("partials of tcp_drops") && broken.stderr.contains("h22"), "\(broken.stderr)")
    }

    @Test("two host selections share one table root without touching each other's partials; --hosts selects in a full run too")
    func sharedRoot() throws {
        let dir = try Support.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shared = dir.appendingPathComponent("shared")
        for host in ["h11", "h12"] {
            let r = try Self.redlineRun(shared, ["--partials-only", "--hosts", host])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let p = try Self.partition()
        for host in ["h11", "h12"] {
            #expect(FileManager.default.fileExists(atPath: shared.appendingPathComponent(
                "_manifests/hourly/partials/\(p)/hosts=\(host).json").path))
            #expect(FileManager.default.fileExists(atPath: shared.appendingPathComponent(
                "partials/red_service/\(p)/host=\(host)/part-00000.parquet").path), "\(host)'s partials were removed by the other run")
        }
        // Unchanged inputs: the second run of a selection is skipped, the other's files stay.
        let again = try Self.redlineRun(shared, ["--partials-only", "--hosts", "h11", "--if-changed"])
        #expect(again.status == 0)
        let merge = try Self.redlineRun(shared, ["--merge-only"])
        #expect(merge.status == 0, "\(merge.stderr)")
        let twoHosts = dir.appendingPathComponent("two-hosts")
        let full = try Self.redlineRun(twoHosts, ["--hosts", "h11,h12"])
        #expect(full.status == 0, "\(full.stderr)")
        for table in Support.tables {
            #expect(try Self.file(shared, table) == Self.file(twoHosts, table), "\(table)")
        }
        #expect(try Self.file(twoHosts, "red_service").count > 0)
    }

    @Test("a damaged or foreign partial is an input error naming the file (exit 3), and nothing is published")
    func badPartials() throws {
        let dir = try Support.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try Self.partition()
        let root = dir.appendingPathComponent("root")
        #expect(try Self.redlineRun(root, ["--partials-only", "--hosts", "h11"]).status == 0)
        let target = root.appendingPathComponent("partials/red_service/\(p)/host=h11/part-00000.parquet")
        let good = try Data(contentsOf: target)
        let cases: [(String, Data, String)] = [
            ("truncated", good.prefix(good.count / 2), "red_service/\(p)/host=h11/part-00000.parquet"),
            ("another table's file", try Data(contentsOf: root.appendingPathComponent("partials/tcp_drops/\(p)/host=h11/part-00000.parquet")),
             "does not have the red_service v\(RedService.version) schema"),
        ]
        for (name, bytes, message) in cases {
            try bytes.write(to: target)
            let r = try Self.redlineRun(root, ["--merge-only"])
            #expect(r.status == 3, "\(name): exit \(r.status)")
            #expect(r.stderr.contains(message), "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("red_service").path), "\(name): a table was published")
        }
    }

    @Test("a partials-only manifest is named by its host selection, other bytes percent-encoded")
    func partialsManifestPath() throws {
        let partition = try #require(Partition("date=2026-01-02/hour=03"))
        #expect(Manifest.partialsPath(tableRoot: "/t", pipeline: "hourly", partition: partition, hostGlobs: ["h1", "web-*"])
                == "/t/_manifests/hourly/partials/date=2026-01-02/hour=03/hosts=h1,web-*.json")
        #expect(Manifest.partialsPath(tableRoot: "/t", pipeline: "hourly", partition: partition, hostGlobs: ["a/b c"])
                .hasSuffix("/hosts=a%2Fb%20c.json"))
    }

    @Test("usage: --partials-only and --merge-only exclude each other; an empty --hosts entry is refused")
    func usage() throws {
        let dir = try Support.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let both = try Self.redlineRun(dir.appendingPathComponent("t"), ["--partials-only", "--merge-only"])
        #expect(both.status == 2 && both.stderr.contains("pick one"), "\(both.stderr)")
        let empty = try Self.redlineRun(dir.appendingPathComponent("t"), ["--hosts", "h11,,h12"])
        #expect(empty.status == 2 && empty.stderr.contains("empty entry"), "\(empty.stderr)")
    }

    @Test("slowSpark: run_merge.py merges the per-host partials into tables equal to the single-machine run, table by table",
          .requiresSpark)
    func slowSparkMergeOfHostPartialsEqualsSingleRun() throws {
        let dir = try Support.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout(in: dir)
        let p = try Self.partition()
        // The reference run_merge.py --compare reads: the single-machine run's merged tables.
        for table in Support.tables {
            let dst = l.fleet.appendingPathComponent("\(table)/\(p)")
            try FileManager.default.createDirectory(at: dst, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: l.single.appendingPathComponent("\(table)/\(p)/part-00000.parquet"),
                                             to: dst.appendingPathComponent("part-00000.parquet"))
        }
        let sparkOut = dir.appendingPathComponent("spark-tables")
        let reportPath = dir.appendingPathComponent("report.json").path
        let r = try runToCompletion(try Support.python(),
                                [Support.packageRoot + "/pipelines/spark/run_merge.py", "--tables", l.fleet.path, "--partition", p,
                                 "--out", sparkOut.path, "--compare", "--report", reportPath, "--small-input"], directory: Support.packageRoot)
        #expect(r.status == 0, "run_merge.py exited \(r.status):\n\(r.stdout)\n\(r.stderr.suffix(4000))")
        let report = try JSONDecoder().decode(Support.Report.self, from: Data(contentsOf: URL(fileURLWithPath: reportPath)))
        for table in Support.tables {
            let e = try #require(report.results.first { $0.table == table }, "no result for \(table)")
            #expect(e.difference_count == 0, "\(table): \(e.differences)")
            if SparkMergeEquivalenceTests.emptyInSamples.contains(table) {
                #expect(e.spark_rows == 0 && e.swift_rows == 0, "\(table) now has sample rows: drop it from emptyInSamples")
                continue
            }
            #expect(e.partial_hosts == 4)
            #expect(e.spark_rows == e.swift_rows && (e.swift_rows ?? 0) > 0, "\(table): spark \(String(describing: e.spark_rows)) rows")
            #expect(FileManager.default.fileExists(atPath: sparkOut.appendingPathComponent("\(table)/\(p)/part-00000.parquet").path),
                    "Spark wrote no \(table)")
        }
    }
}
