import Foundation
import Testing
import TestSupport

/// `redline run` killed at every step of its commit (the fault points named in
/// Sources/Pipeline/Commit.swift, reached through REDLINE_FAULT_COMMIT_STEP): a reader globbing
/// any table's partition folder sees the old files or the new ones, never a mix; a reader
/// following the manifest's run id sees one run's tables; the next run finishes the commit
/// and its output is byte-identical to a clean run's.
@Suite("redline run killed at every commit step (end to end)")
struct CommitFaultCLITests {
    static let capture = Prerequisites.packageRoot + "/tools/lab/samples/capture"

    /// The `.parquet` files of each unit of publication under `root`, as a globbing reader
    /// (DuckDB `…/*.parquet`, pyarrow, Spark) lists and reads them: each merged table's partition
    /// folder, and each host's partials folder (schemas/pipeline-v1.md, "Commit").
    /// The tables a run wrote under `root`: its folders other than partials, manifests, staging.
    static func tables(_ root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { $0 != "partials" && !$0.hasPrefix("_") && !$0.hasPrefix(".") }.sorted()
    }

    static func readerView(_ root: String, partition: String) -> [String: [String: Data]] {
        var view: [String: [String: Data]] = [:]
        func files(_ folder: String) -> [String: Data] {
            var out: [String: Data] = [:]
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(folder)")) ?? [] where name.hasSuffix(".parquet") {
                out[name] = FileManager.default.contents(atPath: "\(root)/\(folder)/\(name)")
            }
            return out
        }
        for table in tables(root) {
            view["\(table)/\(partition)"] = files("\(table)/\(partition)")
            let partials = "partials/\(table)/\(partition)"
            for host in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(partials)")) ?? [] where host.hasPrefix("host=") {
                view["\(partials)/\(host)"] = files("\(partials)/\(host)")
            }
        }
        return view
    }

    /// Every published file (tables, manifests), as bytes: what "byte-identical" compares.
    static func tree(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for case let p as String in FileManager.default.enumerator(atPath: root)!
        where !p.hasPrefix(".staging") && !p.hasSuffix(".redline.lock") {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(p)", isDirectory: &isDir), !isDir.boolValue {
                out[p] = FileManager.default.contents(atPath: "\(root)/\(p)")
            }
        }
        return out
    }

    static func run(segments: String, out: String, partition: String, killAt step: Int? = nil) throws -> ProcessOutput {
        var env = ProcessInfo.processInfo.environment
        env["REDLINE_FAULT_COMMIT_STEP"] = step.map(String.init)
        return try InspectCLITests.redline(environment: env, "run", Prerequisites.packageRoot + "/pipelines/hourly.yaml",
                                           "--partition", partition, "--segments", segments,
                                           "--metadata", capture + "/metadata", "--out", out, "--quiet")
    }

    /// The capture's partition and a scratch folder (the caller removes it) holding `two-hosts/`:
    /// a segment root with two of the capture's four hosts, the "old" partition's input.
    static func workspace() throws -> (partition: String, work: String) {
        let partition = try String(contentsOfFile: capture + "/PARTITION", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let work = try makeScratchDirectory("redline-cli").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(work)/two-hosts", withIntermediateDirectories: true)
        for h in ["host=h11", "host=h21"] {
            try fm.createSymbolicLink(atPath: "\(work)/two-hosts/\(h)", withDestinationPath: "\(capture)/segments/\(h)")
        }
        return (partition, work)
    }

    @Test("a kill at each commit step leaves every table folder all old or all new; the next run is byte-identical")
    func killAtEveryStep() throws {
        // The old partition: two of the four hosts. The new one: all four (other rows, other
        // partial host folders), read from the segment root the final runs use.
        let (partition, work) = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let fm = FileManager.default
        let all = "\(Self.capture)/segments"
        #expect(try Self.run(segments: "\(work)/two-hosts", out: "\(work)/old", partition: partition).status == 0)
        #expect(try Self.run(segments: all, out: "\(work)/new", partition: partition).status == 0)
        let old = Self.readerView("\(work)/old", partition: partition)
        let new = Self.readerView("\(work)/new", partition: partition)
        let clean = Self.tree("\(work)/new")
        let units = Set(old.keys).union(new.keys)
        let tableCount = Self.tables("\(work)/new").count
        #expect(tableCount >= 5 && units.count == tableCount + tableCount * 4, "merged folders and 4 hosts' partials per table: \(units.sorted())")
        // The merged folders and the two new hosts' partials differ; the two old hosts' partials
        // are the same bytes in both runs (a host's partial depends on its segments only).
        // dns_names is empty in both (the capture has no DNS call): its merged folder is the same bytes.
        #expect(units.filter { old[$0] != new[$0] }.count == tableCount + tableCount * 2 - 1, "units that differ")

        var kills = 0, sawMixedAcrossTables = false
        for step in 1...200 {
            let trial = "\(work)/trial"
            try? fm.removeItem(atPath: trial)
            try fm.copyItem(atPath: "\(work)/old", toPath: trial)
            let r = try Self.run(segments: all, out: trial, partition: partition, killAt: step)
            if r.status == 0 { break }  // past the last fault point: the commit ran through
            #expect(r.signalled && r.status == SIGKILL, "step \(step): \(r.stderr)")
            #expect(r.stderr.contains("fault point: killed at commit step \(step)"), "\(r.stderr)")
            kills += 1

            // Each folder, as a globbing reader sees it: the old files or the new ones.
            let seen = Self.readerView(trial, partition: partition)
            var allOld = true, allNew = true
            for folder in units {
                let files = seen[folder] ?? [:]
                let isOld = files == (old[folder] ?? [:]), isNew = files == (new[folder] ?? [:])
                #expect(isOld || isNew, "step \(step): \(folder) holds \(files.keys.sorted()) — neither the old nor the new set")
                allOld = allOld && isOld
                allNew = allNew && isNew
            }
            sawMixedAcrossTables = sawMixedAcrossTables || !(allOld || allNew)
            // A reader needing every table of one run: the manifest's run id, checked against
            // each folder's marker. When they all agree, every folder is that run's.
            let manifest = "\(trial)/_manifests/hourly/\(partition).json"
            let runID = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any])?["runID"] as? String
            let markers = units.map { (try? String(contentsOfFile: "\(trial)/\($0)/_redline_run", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) }
            if let runID, markers.allSatisfy({ $0 == runID }) {
                #expect(allOld || allNew, "step \(step): the markers all say run \(runID) but the folders are of two runs")
            }

            let next = try Self.run(segments: all, out: trial, partition: partition)
            #expect(next.status == 0, "step \(step): \(next.stderr)")
            #expect(Self.tree(trial) == clean, "step \(step): the run after the kill is not byte-identical to a clean run")
        }
        // Staged, journal written, its removal, the manifest, and per unit a swap (plus the old
        // folder's removal where there was one: every table's merged and its 2 old hosts' folders).
        #expect(kills == 4 + units.count + 3 * tableCount, "kills: \(kills)")
        #expect(sawMixedAcrossTables, "some kill fell between two folders' swaps (the case the run-id markers are for)")
    }

    @Test("a full disk (900 KiB tmpfs) during a run: exit 5 naming the file and errno, the previous partition intact, the next run with space byte-identical",
          .requiresRootBPF)
    func diskFull() throws {
        let (partition, work) = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let fm = FileManager.default
        let all = "\(Self.capture)/segments"
        try fm.createDirectory(atPath: "\(work)/small", withIntermediateDirectories: true)
        // Two hosts' tables take ~820 KiB of pages (call_chains holds a row per HTTP call), four
        // hosts' ~1130 KiB: the first run fits, the second beside it cannot.
        let small = try Tmpfs(at: "\(work)/small", size: "900k")
        defer { small.unmount() }
        let out = "\(work)/small/tables"
        // Two hosts' partition fits; the four hosts' one beside it does not.
        #expect(try Self.run(segments: "\(work)/two-hosts", out: out, partition: partition).status == 0)
        let old = Self.readerView(out, partition: partition)
        let oldManifest = fm.contents(atPath: "\(out)/_manifests/hourly/\(partition).json")
        let full = try Self.run(segments: all, out: out, partition: partition)
        #expect(full.status == 5, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device") && full.stderr.contains(out), "\(full.stderr)")
        #expect(Self.readerView(out, partition: partition) == old, "the previous partition is untouched")
        #expect(fm.contents(atPath: "\(out)/_manifests/hourly/\(partition).json") == oldManifest)
        // With space again (the staging left by the failure is cleared by the next run), the run
        // commits what a clean run commits.
        try small.resize(to: "4m")
        #expect(try Self.run(segments: all, out: out, partition: partition).status == 0)
        #expect(try Self.run(segments: all, out: "\(work)/clean", partition: partition).status == 0)
        #expect(Self.tree(out) == Self.tree("\(work)/clean"))
    }
}
