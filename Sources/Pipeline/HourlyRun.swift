import Aggregates
import CCompression
import Enrichment
import Foundation
import Logging
import Parquet
import RedlineBase

/// One run of an hourly pipeline over one partition: read → correct-time →
/// enrich → aggregate (per host) → merge → write, then an atomic commit.
public struct HourlyRun {
    public let spec: PipelineSpec
    public let segmentRoot: String
    public let metadataDir: String?
    public let tableRoot: String
    public let partition: Partition
    /// Skip the run when the manifest shows the same inputs and definition.
    public let ifChanged: Bool
    public var logger: Logger
    /// Called with (done, total, label) as hosts finish; the CLI draws a bar on a terminal.
    public var progress: ((Int, Int, String) -> Void)?
    /// Globs over host names to read, overriding the pipeline's `inputs.hosts` (`--hosts`).
    public var hostGlobs: [String]?
    /// The whole run, or one of its two halves on the fleet path.
    public var mode: Mode = .full
    /// Commit an empty partition when there is no input at all (else: exit 3, nothing committed).
    public var allowEmpty = false
    /// Hosts processed at once (`--jobs`); the output is the same for any value.
    public var jobs = ProcessInfo.processInfo.activeProcessorCount

    /// What a run writes (schemas/pipeline-v1.md, "Fleet path").
    public enum Mode: String, Sendable {
        /// Partials of every selected host, their merge, one manifest.
        case full
        /// Only the selected hosts' partials, with a manifest of their own per host selection
        /// (`_manifests/<pipeline>/partials/<partition>/hosts=<globs>.json`), so hosts or jobs
        /// writing disjoint selections into one table root never touch each other's files.
        case partialsOnly = "partials-only"
        /// No segments: the partials found under the table root (of the selected hosts) merged
        /// into the merged tables, with the partial files as the manifest's inputs.
        case mergeOnly = "merge-only"
    }

    public init(spec: PipelineSpec, segmentRoot: String, metadataDir: String?, tableRoot: String,
                partition: Partition, ifChanged: Bool, logger: Logger) {
        self.spec = spec
        self.segmentRoot = segmentRoot
        self.metadataDir = metadataDir
        self.tableRoot = tableRoot
        self.partition = partition
        self.ifChanged = ifChanged
        self.logger = logger
    }

    public struct Summary: Sendable {
        public var skipped: Bool
        public var manifestPath: String
        public var manifest: Manifest
        /// Merged rows of red_service, for the CLI's short summary.
        public var redService: [ServiceLine]
    }

    /// Runs the partition. Throws `PipelineError` (its exit code is documented).
    public func execute() throws(PipelineError) -> Summary {
        guard let agg = spec.aggregate else { throw .config("an hourly pipeline needs an aggregate stage") }
        guard partition.hour != nil else { throw .config("an hourly pipeline runs hour partitions (date=…/hour=HH)") }
        if mode != .full && !spec.stages.contains(.merge) {
            throw .config("--\(mode.rawValue) splits the merge stage off; \(spec.name) has none")
        }
        let globs = hostGlobs ?? spec.hosts
        try makeParent("\(tableRoot)/.redline.lock", mode: mode_t(spec.write.dirMode))
        let lock = try TableRootLock(tableRoot: tableRoot)
        defer { lock.release() }
        try recoverInterruptedCommit()

        let metadata: Metadata
        if mode == .mergeOnly {
            metadata = Metadata() // partials carry resolved names
        } else if let dir = metadataDir {
            do { metadata = try Metadata.load(directory: dir) } catch { throw .config(error.description) }
        } else {
            metadata = Metadata()
            logger.warning("no metadata snapshot: every service and datacenter will be 'unknown'")
        }

        var byHost: [String: [String]] = [:]
        var inputs: [InputSegment] = []
        var found = PartialTables.Found()
        if mode == .mergeOnly {
            found = try PartialTables.discover(tableRoot: tableRoot, pipeline: spec.name, tables: agg.tables,
                                               hostGlobs: globs, partition: partition)
            inputs = found.inputs
        } else {
            byHost = try SegmentInputs.discover(root: segmentRoot, hostGlobs: globs, partition: partition)
            // Each file's checksum comes from the bytes the run reads anyway (pass 2); only
            // --if-changed needs them before the run, to decide whether to run at all.
            if ifChanged {
                for (host, files) in byHost.sorted(by: { $0.key < $1.key }) {
                    inputs += try SegmentInputs.fingerprint(root: segmentRoot, host: host, files: files)
                }
            }
        }
        let definition = definitionFingerprint()
        let manifestPath = mode == .partialsOnly
            ? Manifest.partialsPath(tableRoot: tableRoot, pipeline: spec.name, partition: partition, hostGlobs: globs)
            : Manifest.path(tableRoot: tableRoot, pipeline: spec.name, partition: partition)
        if ifChanged, let old = Manifest.load(manifestPath), old.inputs == inputs, old.definition == definition,
           old.redlineVersion == RedlineVersion.current {
            logger.info("partition \(partition) unchanged since its manifest; skipped")
            return Summary(skipped: true, manifestPath: manifestPath, manifest: old, redService: [])
        }
        // No input at all is a fault to report (collectors down, a wrong root), not an hour of
        // zero traffic, unless the caller says empty hours are expected (`--allow-empty`: timers
        // on a fresh install). Without it the previous partition, if any, stays as it is.
        var noInput: String?
        if mode == .mergeOnly && found.files.isEmpty {
            noInput = "no partials for \(partition) under \(tableRoot)/partials (hosts \(globs.joined(separator: ", ")))"
        } else if mode != .mergeOnly && byHost.isEmpty {
            noInput = "no segments for \(partition) under \(segmentRoot) (hosts \(globs.joined(separator: ", ")), "
                + "hour folders \(partition.path) and its neighbours)"
        }
        if let noInput {
            guard allowEmpty else { throw .missingInput("\(noInput); nothing committed (--allow-empty commits an empty partition)") }
            logger.warning("\(noInput): writing an empty partition (--allow-empty)")
        }

        let staging = "\(tableRoot)/.staging/\(spec.name)-\(partition.path.replacingOccurrences(of: "/", with: "-"))"
        try? FileManager.default.removeItem(atPath: staging)
        var tableFiles: [Manifest.TableFile] = []
        let tables = PipelineTables.hourly.filter { agg.tables.contains($0.name) }
        let writeChains = agg.tables.contains(CallChainsTable.name)
        /// Writes one table file to staging (names and ranks of the pool the rows' ids are from),
        /// its columns built a range of rows at a time on up to `threads` threads, so that the
        /// file's whole columns are never held at once, and encoded on up to `threads` threads.
        func write<T: OutputTable>(_ table: T.Type, _ rows: TableRows, names: NamePool, ranks: NameRanks, relative: String,
                                   scope: String, threads: Int = 1) throws(PipelineError) -> Manifest.TableFile {
            try write(T.schema, relative: relative, scope: scope, threads: threads) { file, append throws(PipelineError) in
                try T.columns(rows[T.self], names: names, ranks: ranks, bucketSeconds: agg.bucketSeconds, threads: threads,
                              ranges: { file.batchRanges(rows: $0, preferredRows: 4096) }, write: append)
            }
        }
        func write(_ schema: TableSchema, _ columns: [ColumnData], relative: String,
                   scope: String) throws(PipelineError) -> Manifest.TableFile {
            try write(schema, relative: relative, scope: scope) { _, append throws(PipelineError) in try append(columns) }
        }
        /// Writes one file to staging: `fill` hands its batches of columns to `append`, in order;
        /// `threads` encode them. A failure anywhere drops the writer unclosed, which removes its
        /// temp file.
        func write(_ schema: TableSchema, relative: String, scope: String, threads: Int = 1,
                   _ fill: (_ file: ParquetFileWriter, _ append: ([ColumnData]) throws(PipelineError) -> Void)
                       throws(PipelineError) -> Void) throws(PipelineError) -> Manifest.TableFile {
            let staged = "\(staging)/\(relative)"
            try makeParent(staged, mode: mode_t(spec.write.dirMode))
            var options = ParquetWriterOptions()
            options.compression = spec.write.compression == "zstd" ? .zstd : .uncompressed
            options.zstdLevel = Int32(spec.write.zstdLevel)
            options.rowGroupRows = spec.write.rowGroupRows
            options.fileMode = mode_t(spec.write.fileMode)
            options.threads = threads
            let w: ParquetFileWriter
            do {
                w = try ParquetFileWriter(path: staged, schema: schema.parquetSchema, options: options,
                                          metadata: schema.keyValueMetadata + [("redline.version", RedlineVersion.current),
                                                                              ("redline.partition", partition.path),
                                                                              ("redline.scope", scope)])
            } catch {
                throw .output("writing \(relative): \(error)")
            }
            var rows = 0
            try fill(w) { columns throws(PipelineError) in
                do { try w.write(columns) } catch { throw .output("writing \(relative): \(error)") }
                rows += columns.first?.rowCount ?? 0
            }
            do { try w.close() } catch { throw .output("writing \(relative): \(error)") }
            return .init(table: schema.name, path: relative, rows: rows, scope: scope)
        }

        // Per host, on up to `jobs` threads: read, correct, enrich, aggregate into the host's own
        // name pool, write its partials; then, in host order, its rows are renamed into the run's
        // pool and merged (HostJobs), so the output does not depend on `jobs`.
        var names = NamePool()
        var partialHosts: [String] = []
        var merged = TableRows()
        /// call_chains' partials: each host's calls that can carry trace context (`ChainAssembler`).
        var observations: [String: [HopObservation]] = [:]
        var counters: [String: HostCounters] = [:]
        var warnings: [String] = []
        var watermark: Int64?
        let hosts = byHost.keys.sorted()
        struct HostResult {
            var outcome: HostProcessor.Outcome
            var rows: TableRows
            var observations: [HopObservation]?
            var names: NamePool
            var files: [Manifest.TableFile]
        }
        try HostJobs<HostResult>(count: hosts.count, jobs: jobs).run { i throws(PipelineError) in
            let host = hosts[i]
            var processor = HostProcessor(host: host, files: byHost[host]!, partition: partition,
                                          bucketSeconds: agg.bucketSeconds, histogramScale: agg.histogramScale,
                                          maxBlockBytes: spec.read.maxBlockBytes,
                                          maxExtrapolationSeconds: spec.correctTime.maxExtrapolationSeconds,
                                          metadata: metadata)
            processor.tables = AggregatedTables(redEdge: agg.tables.contains(RedEdge.name),
                                                trafficMatrix: agg.tables.contains(TrafficMatrix.name),
                                                tcpHealth: agg.tables.contains(TCPHealth.name), tcpDrops: agg.tables.contains(TCPDrops.name))
            var own = NamePool()
            let l7 = L7Aggregation(tables: Set(agg.tables), routeCap: agg.routeCap, histogramScale: agg.histogramScale,
                                   host: host, names: &own)
            if l7.isActive { processor.callAggregator = l7 }
            var outcome = processor.run(names: &own)
            var rows = TableRows(partial: outcome.aggregates)
            var hops: [HopObservation]?
            if let l7 = outcome.callAggregator as? L7Aggregation {
                rows.merge(l7.rows)
                hops = l7.observations
            }
            // The rows live on in `rows` and `hops` only: a host waiting to be folded holds one copy.
            outcome.aggregates = PartitionAggregates()
            outcome.callAggregator = nil
            let ranks = NameRanks(own)
            var files: [Manifest.TableFile] = []
            for t in tables {
                files.append(try write(t, rows, names: own, ranks: ranks,
                                       relative: "partials/\(t.name)/\(partition.path)/host=\(host)/part-00000.parquet", scope: host))
            }
            if writeChains {
                files.append(try write(CallChainsTable.schema,
                                       CallChainsTable.columns(observations: hops ?? [], bucketSeconds: agg.bucketSeconds),
                                       relative: "partials/\(CallChainsTable.name)/\(partition.path)/host=\(host)/part-00000.parquet",
                                       scope: host))
            }
            return HostResult(outcome: outcome, rows: rows, observations: hops, names: own, files: files)
        } fold: { i, result throws(PipelineError) in
            let host = hosts[i], outcome = result.outcome
            counters[host] = outcome.counters
            warnings += outcome.warnings.map { "host \(host): \($0)" }
            if outcome.counters.uncorrectable > 0 {
                warnings.append("host \(host): \(outcome.counters.uncorrectable) records could not be placed in time (no clock anchors in reach)")
            }
            if let w = outcome.watermark { watermark = max(watermark ?? w, w) }
            merged.merge(result.rows, renaming: names.translation(of: result.names))
            if let hops = result.observations { observations[host] = hops }
            tableFiles += result.files
            partialHosts.append(host)
            if !ifChanged {
                inputs += try SegmentInputs.fingerprint(root: segmentRoot, host: host, files: byHost[host]!,
                                                        known: outcome.checksums)
            }
            logger.info("host \(host): \(outcome.counters.files) segments, \(outcome.counters.records) records, \(outcome.counters.aggregated) aggregated")
            progress?(i + 1, hosts.count, host)
        }
        if mode == .mergeOnly {
            for host in found.files.keys.sorted() {
                var files = found.files[host]!
                if let chains = files.removeValue(forKey: CallChainsTable.name) {
                    observations[host] = try CallChainsTable.observations(reading: chains, tableRoot: tableRoot)
                }
                files.removeValue(forKey: ChainPaths.name) // built by the merge, its partials are empty
                merged.merge(try PartialTables.read(files, tableRoot: tableRoot, bucketSeconds: agg.bucketSeconds, names: &names))
            }
            counters = found.counters
            warnings += found.warnings
            watermark = found.watermark
        }
        let wantChains = agg.tables.contains(CallChainsTable.name) || agg.tables.contains(ChainPaths.name)
        var chainHops: [ChainHop] = []
        if wantChains && spec.stages.contains(.merge) && mode != .partialsOnly {
            let built = ChainAssembler().tables(hosts: observations.keys.sorted().map { observations[$0]! },
                                                bucketSeconds: agg.bucketSeconds, histogramScale: agg.histogramScale,
                                                pathCap: agg.routeCap)
            chainHops = built.hops
            merged.update(ChainPaths.self) { acc in
                for p in built.paths {
                    acc.merge(ChainPaths.Key(bucket: p.bucket, entry: names.id(p.entry), path: names.id(p.path), traced: p.traced ? 1 : 0),
                              Row(cell: p.cell, completeness: Completeness()))
                }
            }
        }

        // The merged tables to staging, then commit. The tables are independent of each other:
        // each is built and written on one of up to `jobs` threads, a large table's columns
        // again on up to `jobs` threads, range by range while its file takes the ranges done
        // (else the largest table alone would be the merge's serial tail), their files listed
        // in table order; the CLI's summary is drawn from the merged rows beside them. The first
        // failure stops the others; every writer removes its own temp file.
        let ranks = NameRanks(names)
        var top: [ServiceLine] = []
        let writesMerged = spec.stages.contains(.merge) && mode != .partialsOnly
        let mergedFiles = writesMerged ? tables.count + (writeChains ? 1 : 0) : 0
        do {
            enum MergeWork { case file(Manifest.TableFile), summary([ServiceLine]) }
            let rows = merged, hops = chainHops, pool = names, scale = agg.histogramScale
            try HostJobs<MergeWork>(count: mergedFiles + 1, jobs: jobs).run { i throws(PipelineError) in
                if i == mergedFiles { return .summary(Self.topServices(rows[RedService.self], names: pool, histogramScale: scale)) }
                guard i < tables.count else {
                    return .file(try write(CallChainsTable.schema, CallChainsTable.columns(hops: hops, bucketSeconds: agg.bucketSeconds),
                                           relative: "\(CallChainsTable.name)/\(partition.path)/part-00000.parquet", scope: "merged"))
                }
                return .file(try write(tables[i], rows, names: pool, ranks: ranks,
                                       relative: "\(tables[i].name)/\(partition.path)/part-00000.parquet", scope: "merged",
                                       threads: jobs))
            } fold: { _, work in
                switch work {
                case .file(let file): tableFiles.append(file)
                case .summary(let lines): top = lines
                }
            }
        }

        // The units of publication (schemas/pipeline-v1.md, "Commit"): each merged table's
        // partition folder, and each host's folder of partials (host selections of the fleet
        // path share a partials partition). Folders the previous commit of this manifest held
        // and this run does not write (hosts no longer inputs, dropped tables) are removed; a
        // merge-only run owns the merged folders only, the partials being its inputs.
        var folders: [String] = []
        let folderTables = tables.map { $0.name } + (writeChains ? [CallChainsTable.name] : [])
        if mode != .mergeOnly {
            for host in partialHosts { folders += folderTables.map { "partials/\($0)/\(partition.path)/host=\(host)" } }
        }
        if spec.stages.contains(.merge) && mode != .partialsOnly { folders += folderTables.map { "\($0)/\(partition.path)" } }
        let removals = Set((Manifest.load(manifestPath)?.tables ?? [])
            .filter { mode != .mergeOnly || $0.scope == "merged" }
            .map { ($0.path as NSString).deletingLastPathComponent })
            .subtracting(folders).sorted()
        // The merged rows are done with: they are freed (every group's histogram, one by one)
        // on a second thread while the commit waits for its fsyncs, not after it.
        var retired: (TableRows, [String: [HopObservation]])? = (merged, observations)
        merged = TableRows()
        observations = [:]
        var committed: Manifest?
        try HostJobs<Manifest?>(count: 2, jobs: jobs).run { i throws(PipelineError) in
            guard i == 0 else {
                _ = retired.take()
                return nil
            }
            return try PartitionCommit(tableRoot: tableRoot, staging: staging, folders: folders, removals: removals,
                                       fileMode: mode_t(spec.write.fileMode), folderMode: mode_t(spec.write.dirMode))
                .publish(Manifest(
                    manifestVersion: Manifest.formatVersion, pipeline: spec.name, definition: definition,
                    partition: partition.path, redlineVersion: RedlineVersion.current, watermarkUTCNanos: watermark,
                    inputs: inputs, tables: tableFiles.sorted(), hosts: counters, warnings: warnings), at: manifestPath)
        } fold: { _, m in
            if let m { committed = m }
        }
        guard let manifest = committed else { preconditionFailure("the commit returns its manifest or throws") }
        for w in warnings { logger.warning("\(w)") }
        logger.info("partition \(partition) committed: \(tableFiles.count) files, manifest \(manifestPath)")

        return Summary(skipped: false, manifestPath: manifestPath, manifest: manifest, redService: top)
    }

    /// One line of the CLI's summary: a service's requests, errors and p99 latency (ns), seen by
    /// `observer`.
    public typealias ServiceLine = (service: String, protocol: String, requests: UInt64, errors: UInt64, p99: Double?,
                                    observer: String)

    /// The summary's lines from the merged red_service rows, most requests first. Each service
    /// is shown in its own (server-side) view; a service only seen from its callers (no
    /// collector on its host) shows the client view.
    static func topServices(_ rows: Accumulator<RedService.Key, Row<RedService.Cell>>, names: NamePool,
                            histogramScale: Int) -> [ServiceLine] {
        struct Entry { var requests: UInt64 = 0; var errors: UInt64 = 0; var hist: ExponentialHistogram }
        var views: [String: [String: Entry]] = [:] // "service\0protocol" -> observer -> entry
        for (k, r) in rows.cells {
            let key = "\(names.name(k.service))\u{0}\(names.name(k.proto))"
            var e = views[key]?[names.name(k.observer)] ?? Entry(hist: ExponentialHistogram(scale: histogramScale))
            e.requests += r.cell.requests
            e.errors += r.cell.errors
            e.hist.merge(r.cell.latency)
            views[key, default: [:]][names.name(k.observer)] = e
        }
        return views.map { key, byObserver -> ServiceLine in
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            let observer = byObserver["server"] != nil ? "server" : "client"
            let e = byObserver[observer]!
            return (parts[0], parts[1], e.requests, e.errors, e.hist.quantile(0.99), observer)
        }.sorted { ($0.requests, $0.service, $0.protocol) > ($1.requests, $1.service, $1.protocol) }
    }

    /// Finishes a commit a killed run left behind, before anything else touches the root.
    private func recoverInterruptedCommit() throws(PipelineError) {
        let path = CommitJournal.path(tableRoot: tableRoot)
        guard let d = FileManager.default.contents(atPath: path) else { return }
        guard let j = try? JSONDecoder().decode(CommitJournal.self, from: d) else {
            throw .output("\(path) is unreadable; move it away after checking the partition it names")
        }
        logger.warning("finishing the commit an interrupted run left in \(path)")
        try j.apply()
        unlink(path)
    }

    /// A fingerprint of everything in the definition that shapes the output.
    func definitionFingerprint() -> String {
        let a = spec.aggregate!
        let w = spec.write
        let text = "\(spec.name)|\(hostGlobs ?? spec.hosts)|\(a.bucketSeconds)|\(a.histogramScale)|\(a.tables)|\(a.routeCap)|\(spec.correctTime.maxExtrapolationSeconds)|"
            + "\(spec.read.maxBlockBytes)|\(spec.stages.contains(.merge))|\(w.compression)|\(w.zstdLevel)|\(w.rowGroupRows)"
        let crc = text.utf8CString.withUnsafeBufferPointer { ccompression_crc32c(0, $0.baseAddress, $0.count - 1) }
        return String(format: "%08x", crc)
    }
}

/// An exclusive flock on `<tables>/.redline.lock`: one run per output root.
struct TableRootLock {
    let fd: Int32

    init(tableRoot: String) throws(PipelineError) {
        let path = "\(tableRoot)/.redline.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io("open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { throw .locked("another run holds \(path)") }
            throw .io("flock \(path): \(String(cString: strerror(e)))")
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
