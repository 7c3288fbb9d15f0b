import Foundation
import Pipeline
import Report

/// Reads what the detectors need from a table root: the partition's merged `red_service`,
/// `red_edge` and `tcp_health`, the per-host partials of `red_edge`, `tcp_health` and `tcp_drops`
/// when the hourly run kept them, and the same for the earlier hour partitions the trailing
/// baseline window reaches into. Missing earlier hours shorten the baseline (cold start); a
/// missing partition is an error.
public struct TableInputs {
    public let tableRoot: String
    public let partition: Partition

    public init(tableRoot: String, partition: Partition) {
        self.tableRoot = tableRoot
        self.partition = partition
    }

    public struct Loaded {
        public var observations: Observations
        /// Every file read (for the manifest's inputs).
        public var files: [String]
        public var warnings: [String]
    }

    func files(_ table: String, _ p: Partition) -> [String] {
        let dir = "\(tableRoot)/\(table)/\(p.path)"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.hasSuffix(".parquet") }.sorted().map { "\(dir)/\($0)" }
    }

    /// `(host, file)` of a table's partials for one hour.
    func partialFiles(_ table: String, _ p: Partition) -> [(String, String)] {
        let dir = "\(tableRoot)/partials/\(table)/\(p.path)"
        guard let hosts = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return hosts.filter { $0.hasPrefix("host=") }.sorted().flatMap { h in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(h)")) ?? [])
                .filter { $0.hasSuffix(".parquet") }.sorted().map { (String(h.dropFirst(5)), "\(dir)/\(h)/\($0)") }
        }
    }

    public func load(baselineBuckets: Int) throws(PipelineError) -> Loaded {
        guard partition.hour != nil else { throw .config("an anomaly pipeline runs hour partitions (date=YYYY-MM-DD/hour=HH)") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: tableRoot, isDirectory: &isDir), isDir.boolValue else {
            throw .missingInput("no table root at \(tableRoot)")
        }
        let required = ["red_service", "red_edge", "tcp_health"]
        let absent = required.filter { files($0, partition).isEmpty }
        guard absent.isEmpty else {
            throw .missingInput("no \(absent.joined(separator: ", ")) for \(partition.path) under \(tableRoot) "
                + "(make them with: redline run pipelines/hourly.yaml --partition \(partition.path) --out \(tableRoot))")
        }
        var bucketSeconds = 60
        do {
            for path in files("red_service", partition) {
                let f = try TableFile(path: path)
                if f.rows > 0, let b = try f.int32s("bucket_seconds").first { bucketSeconds = Int(b); break }
            }
        } catch {
            throw .missingInput(error.description)
        }
        let windowNanos = Int64(baselineBuckets) * Int64(bucketSeconds) * 1_000_000_000
        let earliest = partition.startNanos - windowNanos
        var hours: [Partition] = []
        var t = partition.startNanos
        while t > earliest {
            t -= 3_600_000_000_000
            hours.insert(Partition.hour(containing: t), at: 0)
        }
        var loaded = Loaded(observations: Observations(bucketSeconds: bucketSeconds), files: [], warnings: [])
        // The latest watermark any pipeline's manifest of the partition states.
        let manifests = ((try? FileManager.default.contentsOfDirectory(atPath: "\(tableRoot)/_manifests")) ?? []).sorted()
        loaded.observations.watermark = manifests
            .compactMap { Manifest.load("\(tableRoot)/_manifests/\($0)/\(partition.path).json")?.watermarkUTCNanos }.max()
        let missing = hours.filter { files("red_service", $0).isEmpty }
        if !missing.isEmpty {
            loaded.warnings.append("no red_service for \(missing.map(\.path).joined(separator: ", ")): the baseline window is shorter (cold start)")
        }
        do {
            for h in hours + [partition] {
                try read(h, from: earliest, into: &loaded)
            }
        } catch {
            throw .missingInput(error.description)
        }
        return loaded
    }

    private func read(_ p: Partition, from earliest: Int64, into l: inout Loaded) throws(ReportError) {
        let bs = Int32(l.observations.bucketSeconds)
        func open(_ path: String) throws(ReportError) -> TableFile? {
            let f = try TableFile(path: path)
            l.files.append(path)
            guard f.rows > 0 else { return nil }
            let widths = try f.int32s("bucket_seconds")
            guard widths.allSatisfy({ $0 == bs }) else {
                throw .badTable(path: path, reason: "bucket_seconds \(widths.first ?? 0) differs from the partition's \(bs)")
            }
            return f
        }
        for path in files("red_service", p) {
            guard let f = try open(path) else { continue }
            try readRED(f, host: nil, edges: false, from: earliest) { l.observations.red.append($0) }
        }
        for path in files("red_edge", p) {
            guard let f = try open(path) else { continue }
            try readRED(f, host: nil, edges: true, from: earliest) { l.observations.red.append($0) }
        }
        for (host, path) in partialFiles("red_edge", p) {
            guard let f = try open(path) else { continue }
            try readRED(f, host: host, edges: true, from: earliest) { l.observations.hostRED.append($0) }
        }
        for path in files("tcp_health", p) {
            guard let f = try open(path) else { continue }
            try readTCP(f, host: nil, from: earliest) { l.observations.tcp.append($0) }
        }
        for (host, path) in partialFiles("tcp_health", p) {
            guard let f = try open(path) else { continue }
            try readTCP(f, host: host, from: earliest) { l.observations.hostTCP.append($0) }
        }
        for (host, path) in partialFiles("tcp_drops", p) {
            guard let f = try open(path) else { continue }
            let bucket = try f.int64s("bucket_start"), reason = try f.strings("reason"), cls = try f.strings("drop_class")
            let drops = try f.int64s("drops"), c = try f.doubles("completeness")
            for r in 0..<f.rows where bucket[r] >= earliest {
                l.observations.hostDrops.append(DropObservation(bucket: bucket[r], host: host, reason: reason[r], dropClass: cls[r],
                                                                drops: drops[r], completeness: c[r]))
            }
        }
    }

    private func readRED(_ f: TableFile, host: String?, edges: Bool, from earliest: Int64,
                         _ add: (REDObservation) -> Void) throws(ReportError) {
        let bucket = try f.int64s("bucket_start"), observer = try f.strings("observer")
        let callee = try f.strings(edges ? "callee" : "service")
        let caller = edges ? try f.strings("caller") : [], callerDC = edges ? try f.strings("caller_dc") : []
        let calleeDC = edges ? try f.strings("callee_dc") : []
        let m = try REDColumns(f)
        for r in 0..<f.rows where bucket[r] >= earliest {
            add(REDObservation(bucket: bucket[r], caller: edges ? caller[r] : nil, callee: callee[r],
                               callerDC: edges ? callerDC[r] : "unknown", calleeDC: edges ? calleeDC[r] : "unknown",
                               observer: observer[r], requests: m.requests[r], errors: m.errors[r], latency: try m.histogram(r),
                               completeness: m.completeness[r], host: host))
        }
    }

    private func readTCP(_ f: TableFile, host: String?, from earliest: Int64, _ add: (TCPObservation) -> Void) throws(ReportError) {
        let bucket = try f.int64s("bucket_start"), service = try f.strings("service"), peer = try f.strings("peer_service")
        let retx = try f.int64s("retransmits"), rs = try f.int64s("resets_sent"), rr = try f.int64s("resets_received")
        let drops = try f.int64s("drops"), policy = try f.int64s("drops_policy"), c = try f.doubles("completeness")
        for r in 0..<f.rows where bucket[r] >= earliest {
            add(TCPObservation(bucket: bucket[r], service: service[r], peer: peer[r], retransmits: retx[r], resets: rs[r] + rr[r],
                               drops: drops[r] + policy[r], completeness: c[r], host: host))
        }
    }
}
