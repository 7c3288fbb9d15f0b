import ArgumentParser
import Foundation
import Anomaly
import Logging
import Pipeline
import YAMLConfig

/// `redline run <pipeline.yaml>`: one partition of a pipeline, cron-safe.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline (pipelines/*.yaml) over one partition and commit its tables atomically.",
        discussion: """
            Hourly pipelines read segments, correct time, enrich, aggregate per host, merge, and \
            write Parquet tables under <out>/<table>/date=D/hour=HH/ (per-host partials under \
            <out>/partials/). A manifest per partition lists the inputs with their checksums; \
            re-running a partition over the same inputs writes byte-identical files.

            Anomaly pipelines (kind anomaly) read an hour's merged tables and the hours before it \
            and write ranked anomaly_candidates (redline explain prints them).

            Cron: `5 * * * * redline run /etc/redline/hourly.yaml --if-changed` processes the last \
            closed hour, and re-runs it only if segments arrived late.

            Fleet path: `--partials-only` writes only the selected hosts' partials (each host, or \
            one job per host with --hosts, into its own or a shared table root); `--merge-only` \
            reads the partials found under the table root and writes the merged tables, the same \
            files a single run writes (pipelines/spark/run_merge.py merges them on Spark).

            Exit codes: 0 committed (or skipped as unchanged), 2 usage error, 3 bad pipeline, \
            metadata or missing input, 4 another run holds the output's lock, 5 I/O or write failure.
            """
    )

    @Argument(help: "The pipeline file (schemas/pipeline-v1.md).")
    var pipeline: String

    @Option(help: "The partition: date=YYYY-MM-DD/hour=HH (hourly) or date=YYYY-MM-DD (daily).")
    var partition: String?

    @Flag(help: "Run the last closed hour (the default of hourly pipelines).")
    var lastClosedHour = false

    @Option(help: "Segment root (overrides inputs.segments).")
    var segments: String?

    @Option(help: "Metadata snapshot folder (overrides inputs.metadata).")
    var metadata: String?

    @Option(help: "Table root (overrides output.tables).")
    var out: String?

    @Flag(help: "Skip the partition if its manifest shows the same inputs and definition (cron mode).")
    var ifChanged = false

    @Option(help: "Comma-separated host names or globs to read (overrides inputs.hosts).")
    var hosts: String?

    @Flag(help: "Write only the selected hosts' partials (the fleet path's per-host half).")
    var partialsOnly = false

    @Flag(help: "Merge the partials found under the table root into the merged tables; read no segments.")
    var mergeOnly = false

    @Flag(help: "With no input at all (no segments, or no partials for --merge-only), commit an empty partition instead of exiting 3 (timers on hosts that may have nothing yet).")
    var allowEmpty = false

    @Flag(help: "Only warnings and errors on stderr; no progress or summary.")
    var quiet = false

    @Option(help: "Hosts processed in parallel (default: the number of cores). The output is the same for any value; memory grows with it (one host's working set each).")
    var jobs: Int?

    func validate() throws {
        if partition != nil && lastClosedHour {
            throw ValidationError("--partition and --last-closed-hour both choose the partition; pick one")
        }
        if partialsOnly && mergeOnly {
            throw ValidationError("--partials-only and --merge-only are the two halves of a run; pick one")
        }
        if let h = hosts, h.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--hosts '\(h)' has an empty entry; give comma-separated host names or globs")
        }
        if let j = jobs, j < 1 {
            throw ValidationError("--jobs \(j): give at least 1")
        }
        if let p = partition, Partition(p) == nil {
            throw ValidationError("--partition '\(p)' is not date=YYYY-MM-DD/hour=HH or date=YYYY-MM-DD")
        }
    }

    func run() throws {
        let interactive = isatty(2) == 1 && !quiet
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = quiet ? .warning : .info
            return h
        }
        let logger = Logger(label: "redline.run")
        let spec: PipelineSpec
        do {
            spec = try PipelineSpec.load(path: pipeline)
        } catch {
            FileHandle.standardError.write(Data("redline run: \(error)\n".utf8))
            throw ExitCode(3)
        }
        func abs(_ p: String) -> String {
            p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
        }
        let tableRoot = out.map(abs) ?? spec.tableRoot
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let chosen: Partition
        if let p = partition {
            chosen = Partition(p)!
        } else if lastClosedHour {
            chosen = Partition.lastClosed(hourly: true, nowNanos: now, delaySeconds: spec.closeDelaySeconds)
        } else {
            switch spec.defaultPartition {
            case .fixed(let p): chosen = p
            case .lastClosedHour: chosen = Partition.lastClosed(hourly: true, nowNanos: now, delaySeconds: spec.closeDelaySeconds)
            case .lastClosedDay: chosen = Partition.lastClosed(hourly: false, nowNanos: now, delaySeconds: spec.closeDelaySeconds)
            }
        }
        do {
            switch spec.kind {
            case .hourly:
                // A merge-only run reads partials under the table root, no segments.
                guard let segRoot = segments.map(abs) ?? spec.segmentRoot ?? (mergeOnly ? "" : nil) else {
                    throw PipelineError.config("no segment root: set inputs.segments or pass --segments")
                }
                var run = HourlyRun(spec: spec, segmentRoot: segRoot, metadataDir: metadata.map(abs) ?? spec.metadataDir,
                                    tableRoot: tableRoot, partition: chosen, ifChanged: ifChanged, logger: logger)
                run.hostGlobs = hosts.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                run.mode = partialsOnly ? .partialsOnly : mergeOnly ? .mergeOnly : .full
                run.allowEmpty = allowEmpty
                if let jobs { run.jobs = jobs }
                if interactive {
                    run.progress = { done, total, host in
                        let width = 30, filled = total == 0 ? width : done * width / total
                        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) hosts (\(host))\u{1B}[K".utf8))
                        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
                    }
                }
                let summary = try run.execute()
                if !quiet { printSummary(summary, tableRoot: tableRoot, partition: chosen) }
            case .dailyTraffic:
                if partialsOnly || mergeOnly || hosts != nil {
                    throw PipelineError.config("--partials-only, --merge-only and --hosts apply to hourly pipelines only")
                }
                let run = DailyTrafficRun(spec: spec, tableRoot: tableRoot, partition: chosen, logger: logger)
                let manifest = try run.execute()
                if !quiet {
                    print("daily traffic for \(chosen): \(manifest.tables.first?.rows ?? 0) rows")
                    print("tables under \(tableRoot)/traffic_matrix_daily/\(chosen.path)/")
                }
            case .anomaly:
                if partialsOnly || mergeOnly || hosts != nil {
                    throw PipelineError.config("--partials-only, --merge-only and --hosts apply to hourly pipelines only")
                }
                let s = try AnomalyRun(spec: spec, tableRoot: tableRoot, partition: chosen, logger: logger).execute()
                if !quiet {
                    print("anomaly candidates for \(chosen): \(s.candidates.count) (\(s.bucketSeconds) s buckets)")
                    print("table under \(tableRoot)/\(AnomalyTable.schema.name)/\(chosen.path)/; read it with: "
                          + "redline explain --tables \(tableRoot) --partition \(chosen.path)")
                }
            }
        } catch let e as PipelineError {
            FileHandle.standardError.write(Data("redline run: \(e)\n".utf8))
            throw ExitCode(e.exitCode)
        }
    }

    private func printSummary(_ s: HourlyRun.Summary, tableRoot: String, partition: Partition) {
        if s.skipped {
            print("partition \(partition): unchanged since \(s.manifestPath); nothing to do")
            return
        }
        let m = s.manifest
        let totalRecords = m.hosts.values.reduce(UInt64(0)) { $0 + $1.records }
        print("partition \(partition): \(m.inputs.count) segments from \(m.hosts.count) hosts, \(totalRecords) records")
        print("tables under \(tableRoot):")
        for t in m.tables where t.scope == "merged" {
            print("  \(t.path)  (\(t.rows) rows)")
        }
        let partialFiles = m.tables.filter { $0.scope != "merged" }
        if !m.tables.contains(where: { $0.scope == "merged" }) {
            print("  partials only: \(partialFiles.count) files for hosts \(Set(partialFiles.map(\.scope)).sorted().joined(separator: ", "))")
        }
        print("manifest: \(s.manifestPath)")
        if !m.warnings.isEmpty { print("warnings: \(m.warnings.count) (listed in the manifest)") }
        guard !s.redService.isEmpty else {
            print("no calls in this partition")
            return
        }
        print("")
        print("top services by requests (server-side view; * = seen only by its callers):")
        let header = "service".padding(toLength: 18, withPad: " ", startingAt: 0) + "protocol  " + "requests".leftPad(10)
            + "errors".leftPad(8) + "error %".leftPad(9) + "p99 ms".leftPad(10)
        print("  " + header)
        for r in s.redService.prefix(10) {
            let ratio = r.requests == 0 ? 0 : Double(r.errors) / Double(r.requests) * 100
            let p99 = r.p99.map { String(format: "%.3f", $0 / 1e6) } ?? "-"
            let label = r.observer == "server" ? r.service : r.service + " *"
            print("  " + label.padding(toLength: 18, withPad: " ", startingAt: 0)
                  + r.protocol.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(r.requests).leftPad(10) + String(r.errors).leftPad(8)
                  + String(format: "%.2f", ratio).leftPad(9) + p99.leftPad(10))
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
