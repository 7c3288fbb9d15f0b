import ArgumentParser
import CRedlineABI
import DevSupport
import Foundation
import Parquet
import Segments
import RedlineBase

/// `redline-dev bench-pipeline --calls N --out DIR`: the input of tools/bench/pipeline/run.
/// `redline-dev bench-pipeline --scan ROOT`: the floor under any segment-based aggregator — read,
/// CRC-check and decompress every segment under ROOT and touch every call, nothing else.
///
/// Writes, deterministically (same arguments, same bytes):
/// - `DIR/segments/`: one hour (partition `date=2026-01-02/hour=03`) of `hosts` hosts, each
///   writing one sealed one-minute segment per minute as the collector does: clock anchors (start
///   or periodic at the window's start, every 10 s, seal at its end), a cgroup mapping per local
///   pod, event/drop counters every 10 s, and `N / (hosts · 60)` l7_call records per minute.
/// - `DIR/metadata/`: `services.yaml` (service ids) and `datacenters.yaml` (two datacenters).
/// - `DIR/calls/part-HH.parquet` (unless `--no-parquet`): the same calls, one row each, one file
///   per host, already time-corrected and enriched (bucket, callee service name, protocol name,
///   observer, red_edge's keys), so a SQL engine only aggregates.
///
/// Hosts are generated on parallel threads (`--threads`); the output does not depend on it.
///
/// Group structure (red_service): `services` callees × 3 protocols × 2 observers × 60 buckets.
/// Each host runs the services `s` with `s % hosts == h`; a call is seen on the callee's host
/// (observer server) or the caller's host (observer client), never both, so every call is one
/// row in both inputs. Each host's clock has its own REALTIME − MONOTONIC offset, constant over
/// the hour, so correction is exact and the Parquet's bucket equals the pipeline's.
struct BenchPipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-pipeline",
        abstract: "Write the pipeline benchmark's input: one hour of l7_call segments, metadata, and the same calls as Parquet."
    )

    @Option(help: "l7_call records in total (spread evenly over hosts and minutes).")
    var calls = 5_000_000

    @Option(help: "Hosts (segment writers).")
    var hosts = 4

    @Option(help: "Services (callees); ids 1...N.")
    var services = 50

    @Option(help: "Output folder (must not exist).")
    var out: String?

    @Option(help: "Instead of generating: scan every sealed segment under this root (read, CRC32C, LZ4, touch each call).")
    var scan: String?

    @Option(help: "Seed of the deterministic generator.")
    var seed: UInt64 = 1

    @Option(help: "Call record layout of the segments: v2 (slim calls + call details) or v1 (240-byte calls).")
    var records = BenchPipeline.Records.v2

    @Flag(inversion: .prefixedNo, help: "Write calls/ (the calls as Parquet, for the SQL side); the 100× input needs none.")
    var parquet = true

    @Option(help: "Hosts generated at once (default: the CPU count); the bytes written do not depend on it.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard calls > 0, (1...64).contains(hosts), (1...200).contains(services), services >= hosts, threads > 0 else {
            throw ValidationError("need calls > 0, 1 ≤ hosts ≤ 64, hosts ≤ services ≤ 200, threads > 0")
        }
        guard (out == nil) != (scan == nil) else { throw ValidationError("give exactly one of --out and --scan") }
        if let out, FileManager.default.fileExists(atPath: out) { throw ValidationError("\(out) exists") }
    }

    func run() throws {
        try BenchPipeline(calls: calls, hosts: hosts, services: services, out: out, scan: scan, seed: seed,
                          parquet: parquet, threads: threads, records: records).run()
    }
}

/// The generator and scanner behind `BenchPipelineCommand`, on plain copies of its options: the
/// generator reads them per call, and an `@Option`'s getter (a generic enum copy) took a fifth
/// of its time.
struct BenchPipeline: Sendable {
    let calls: Int
    let hosts: Int
    let services: Int
    let out: String?
    let scan: String?
    let seed: UInt64
    let parquet: Bool
    let threads: Int
    let records: Records

    /// The call layout the segments are written in (schemas/records-v2.md): v2, slim calls and
    /// call_detail records, as collectors write them; v1, 240-byte calls with the strings inline,
    /// as before records v2. The same calls either way, so the two can be compared.
    enum Records: String, ExpressibleByArgument, CaseIterable, Sendable { case v1, v2 }

    /// 2026-01-02T03:00:00Z: the partition the benchmark runs.
    static let hourStart: Int64 = 1_767_322_800_000_000_000
    static let partition = "date=2026-01-02/hour=03"
    static let minute: Int64 = 60_000_000_000
    /// L7 protocols the calls use (ids of `enum rl_l7_protocol`) and their table names.
    static let protocols: [(id: UInt8, name: String)] = [(1, "http1"), (2, "redis"), (4, "mysql")]
    /// Callees each service calls (and callers each service has): a small fixed fan-out.
    static let fanOut = 4

    func run() throws {
        if let scan { return try scanSegments(root: scan) }
        try generate(out: out!)
    }

    /// Reads every `.rls` file under `root` the way the pipeline's aggregation pass does for the
    /// RED tables (every block CRC-checked; every block but call details decompressed, as no
    /// table of them needs names) and touches every call's start and duration.
    private func scanSegments(root: String) throws {
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw ValidationError("cannot list \(root)") }
        let files = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(SegmentFormat.sealedSuffix) }.sorted()
        var calls = 0
        var sum: UInt64 = 0
        for f in files {
            var options = ReaderOptions()
            options.decompressTypes = Set(RecordType.allCases).subtracting([.callDetail])
            let reader = try SegmentReader(path: root + "/" + f, options: options)
            while try reader.nextBlock() != nil {
                _ = reader.withRecords(as: rl_l7_call.self) { cs in
                    calls += cs.count
                    for c in cs { sum &+= c.start_ns ^ c.duration_ns }
                }
            }
        }
        print("scanned \(calls) calls in \(files.count) segments (checksum \(sum))")
    }

    private func generate(out: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: out + "/metadata", withIntermediateDirectories: true)
        try writeMetadata(out: out)
        if parquet { try fm.createDirectory(atPath: out + "/calls", withIntermediateDirectories: true) }
        let started = DispatchTime.now().uptimeNanoseconds
        let names = Names(services: services)
        // Hosts are independent (each has its own generator state, segments and Parquet file),
        // so they are generated on parallel threads and the bytes do not depend on `threads`.
        let results = try Self.eachHost(count: hosts, threads: threads) { h in try generateHost(h, out: out, names: names) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var groups = [Bool](repeating: false, count: Self.groupSlots)
        for r in results { for (i, seen) in r.groups.enumerated() where seen { groups[i] = true } }
        let written = results.reduce(0) { $0 + $1.calls }
        let parquetNote = parquet ? "calls/ \(results.reduce(0) { $0 + $1.parquetBytes }) bytes of Parquet" : "no Parquet"
        print("partition \(Self.partition): \(written) calls in \(results.reduce(0) { $0 + $1.segments }) segments from \(hosts) hosts; "
              + "\(groups.filter { $0 }.count) red_service groups; \(parquetNote); "
              + String(format: "generated in %.2f s on %d threads (%.2f M calls/s)", seconds, min(threads, hosts), Double(written) / seconds / 1e6))
    }

    /// What one host's generation wrote.
    struct HostOutput: Sendable {
        var segments = 0
        var calls = 0
        var parquetBytes = 0
        /// Which red_service groups (``groupSlot``) the host's calls fall into.
        var groups = [Bool](repeating: false, count: BenchPipeline.groupSlots)
    }

    /// Slots of ``groupSlot``: minute × service id (< 256) × protocol (< 4) × observer.
    static let groupSlots = 60 * 256 * 4 * 2
    static func groupSlot(minute m: Int, callee: Int, protoIndex: Int, server: Bool) -> Int {
        ((m * 256 + callee) * 4 + protoIndex) * 2 + (server ? 1 : 0)
    }

    /// Runs `work(h)` for h in 0..<count on up to `threads` threads and returns the results in
    /// host order; the first error (in host order) is rethrown once all threads are done.
    static func eachHost<T: Sendable>(count: Int, threads: Int, _ work: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let state = EachHostState<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in
            while let h = state.next() {
                let r = Result { try work(h) }
                state.finish(h, r)
            }
        }
        // Hosts start in order, so a host that never started comes after a failed one, whose
        // error this throws first.
        return try state.results.map { try $0!.get() }
    }

    /// `eachHost`'s shared state; its lock orders every access.
    final class EachHostState<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var started = 0
        private let count: Int
        private(set) var results: [Result<T, any Error>?]
        init(count: Int) {
            self.count = count
            results = Array(repeating: nil, count: count)
        }
        func next() -> Int? {
            lock.lock()
            defer { lock.unlock() }
            // After a failure no further host starts.
            guard started < count, !results.contains(where: { if case .failure = $0 { true } else { false } }) else { return nil }
            started += 1
            return started - 1
        }
        func finish(_ h: Int, _ r: Result<T, any Error>) {
            lock.lock()
            results[h] = r
            lock.unlock()
        }
    }

    /// One host's hour: its 60 sealed one-minute segments and, with `parquet`, its calls as
    /// `calls/part-HH.parquet`.
    private func generateHost(_ h: Int, out: String, names: Names) throws -> HostOutput {
        var options = WriterOptions()
        // The input is a fixture, not a crash test: page cache is enough, and fsyncs of gigabytes
        // would only slow the generator down.
        options.durable = false
        var popts = ParquetWriterOptions()
        popts.compression = .zstd
        popts.zstdLevel = 1
        popts.rowGroupRows = 1 << 20
        let parquetPath = out + String(format: "/calls/part-%02d.parquet", h)
        let pw = parquet ? try ParquetFileWriter(path: parquetPath + ".tmp", schema: Self.parquetSchema, options: popts) : nil
        var batch = Batch()
        var result = HostOutput()

        let perSegment = calls / (hosts * 60), extra = calls % (hosts * 60)
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(h))
        let local = (1...services).filter { $0 % hosts == h % hosts }
        // Each host's boot: its own monotonic origin, hence its own REALTIME − MONOTONIC offset.
        let mono0 = UInt64(3_600_000_000_000) + UInt64(h) * 987_654_321_987
        let offset = Self.hourStart - Int64(mono0)
        func mono(_ wall: Int64) -> UInt64 { UInt64(wall - offset) }
        let bootBytes = (0..<16).map { UInt8(truncatingIfNeeded: (h + 1) * 31 + $0 * 7) }
        for m in 0..<60 {
            let segStart = Self.hourStart + Int64(m) * Self.minute
            let header = SegmentHeader(hostID: String(format: "bench-%02d", h), bootID: BootID(bytes: bootBytes),
                                       windowStartNs: segStart, windowEndNs: segStart + Self.minute,
                                       openedMonotonicNs: mono(segStart), recordTypes: recordTypes)
            let w = try SegmentWriter(root: out + "/segments", header: header, sequence: 0, options: options)
            try w.append(anchor(mono(segStart + 1000), offset: offset, rng: &rng,
                                reason: m == 0 ? RL_ANCHOR_START : RL_ANCHOR_PERIODIC))
            for s in local {
                for pod in 0..<2 {
                    var g = rl_cgroup_mapping()
                    g.ts_ns = mono(segStart + 2000)
                    g.cgroup_id = cgroup(service: s, pod: pod)
                    g.service_id = UInt32(s)
                    let uid = String(format: "%08x-4b5a-6978-8796-%012x", s, pod)
                    SyntheticSegments.setString(&g.pod_uid, uid)
                    SyntheticSegments.setString(&g.container_id, String(repeating: String(format: "%02x", s * 2 + pod), count: 32))
                    SyntheticSegments.setString(&g.path, "/kubepods.slice/kubepods-pod\(uid.prefix(8)).slice/cri-containerd-\(pod).scope")
                    try w.append(g)
                }
            }
            let n = perSegment + (h * 60 + m < extra ? 1 : 0)
            // Calls start in [segStart + 10 µs, segEnd − 10 µs): inside the minute's bucket.
            let span = Self.minute - 20_000
            var nextTick = 1, emitted: UInt64 = 0
            for i in 0..<n {
                let wall = segStart + 10_000 + Int64((Double(i) + 0.5) / Double(n) * Double(span))
                while nextTick < 6 && wall >= segStart + Int64(nextTick) * 10_000_000_000 {
                    try tick(w, at: mono(segStart + Int64(nextTick) * 10_000_000_000), offset: offset,
                             emitted: &emitted, rng: &rng)
                    nextTick += 1
                }
                let c = makeCall(local: local, mono: mono(wall), names: names, rng: &rng)
                try w.append(call: c.record, detail: c.detail)
                emitted += 1
                result.groups[Self.groupSlot(minute: m, callee: c.callee, protoIndex: c.protoIndex, server: c.server)] = true
                if let pw {
                    batch.append(bucket: segStart, start: wall, c, names: names,
                                 callerDC: datacenter(c.caller), calleeDC: datacenter(c.callee))
                    if batch.count == popts.rowGroupRows { try pw.write(batch.columns()); batch = Batch() }
                }
            }
            while nextTick < 6 {
                try tick(w, at: mono(segStart + Int64(nextTick) * 10_000_000_000), offset: offset, emitted: &emitted, rng: &rng)
                nextTick += 1
            }
            try tick(w, at: mono(segStart + Self.minute - 1000), offset: offset, emitted: &emitted, rng: &rng, seal: true)
            try w.seal()
            result.segments += 1
            result.calls += n
        }
        if let pw {
            if batch.count > 0 { try pw.write(batch.columns()) }
            try pw.close()
            // Renamed only when complete (no fsync: a scratch fixture, regenerated when in doubt).
            guard rename(parquetPath + ".tmp", parquetPath) == 0 else {
                throw ValidationError("rename \(parquetPath).tmp: \(String(cString: strerror(errno)))")
            }
            result.parquetBytes = Int(pw.bytesWritten)
        }
        return result
    }

    /// The segments' record types: today's, or with l7_call version 1 (and no call_detail).
    private var recordTypes: [RecordTypeVersion] {
        switch records {
        case .v2: RecordTypeVersion.current
        case .v1: RecordTypeVersion.current.compactMap {
            $0.recordType == .callDetail ? nil : $0.recordType == .l7Call ? RecordTypeVersion(.l7Call, version: 1) : $0
        }
        }
    }

    /// One call's record and what the Parquet row needs.
    struct Call {
        var record: rl_l7_call
        /// Its strings (HTTP calls), written as a call_detail (v2) or inline (v1).
        var detail: rl_call_detail?
        /// Index of the callee and of the caller in ``Names`` (their service ids).
        var callee: Int
        var caller: Int
        var protoIndex: Int
        var server: Bool
    }

    private func makeCall(local: [Int], mono: UInt64, names: Names, rng: inout SplitMix64) -> Call {
        // A skewed load: a few services take most calls (u² puts ~30 % on the first tenth).
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        let me = local[Int(u * u * Double(local.count))]
        let peer = neighbour(of: me, Int(rng.below(UInt64(Self.fanOut))))
        let server = rng.below(2) == 0
        let callee = server ? me : peer
        let pi = Int(rng.below(UInt64(Self.protocols.count)))
        var c = rl_l7_call()
        c.start_ns = mono
        c.cgroup_id = cgroup(service: me, pod: Int(rng.below(2)))
        // Half the pods have a collector-configured service id; the rest resolve through the
        // cgroup mapping (the pipeline's other enrichment path).
        c.local_service = me % 2 == 0 ? UInt32(me) : 0
        c.peer_service = UInt32(peer)
        SyntheticSegments.setAddress(&c.laddr, podIP(me))
        SyntheticSegments.setAddress(&c.raddr, podIP(peer))
        let ephemeral = UInt16(32768 + rng.below(28000))
        let servicePort: UInt16 = [80, 6379, 3306][pi]
        c.lport = server ? servicePort : ephemeral
        c.rport = server ? ephemeral : servicePort
        c.family = UInt8(RL_FAMILY_INET.rawValue)
        c.l4_proto = 6
        c.l7_proto = Self.protocols[pi].id
        c.side = UInt8(server ? RL_SIDE_SERVER.rawValue : RL_SIDE_CLIENT.rawValue)
        // Errors: 1 % client, 2 % server; one service in ten fails ten times as often.
        let r = rng.below(1000)
        let serverErrorRate: UInt64 = callee % 10 == 3 ? 200 : 20
        let cls = r < serverErrorRate ? RL_STATUS_SERVER_ERROR : r < serverErrorRate + 10 ? RL_STATUS_CLIENT_ERROR : RL_STATUS_OK
        c.status_class = UInt8(cls.rawValue)
        // Durations: a base per (callee, protocol) from 50 µs to 3.2 ms, spread ×0.5…×2, a 1 % tail
        // ×20, and one call in 500 an exact power of two (the histogram's boundary case).
        let base = UInt64(50_000) << UInt64((callee + pi) % 7)
        var d = base / 2 + rng.below(base * 3 / 2)
        if rng.below(100) == 0 { d *= 20 }
        if rng.below(500) == 0 { d = 1 << (14 + rng.below(12)) }
        c.duration_ns = d
        c.req_bytes = UInt32(40 + rng.below(900))
        c.resp_bytes = UInt32(60 + rng.below(pi == 0 ? 16000 : 2000))
        c.req_rule = UInt16(1 + pi * 2)
        c.resp_rule = UInt16(2 + pi * 2)
        var detail: rl_call_detail?
        if pi == 0 {
            c.status_code = cls == RL_STATUS_SERVER_ERROR ? 503 : cls == RL_STATUS_CLIENT_ERROR ? 404 : 200
            c.flags = UInt8(RL_CALL_PREFIX_CAPTURED.rawValue | RL_CALL_TRACE_W3C.rawValue)
            var dt = rl_call_detail()
            withUnsafeMutableBytes(of: &dt.trace_id) { b in
                b.storeBytes(of: rng.next(), toByteOffset: 0, as: UInt64.self)
                b.storeBytes(of: rng.next(), toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeMutableBytes(of: &dt.span_id) { $0.storeBytes(of: rng.next(), as: UInt64.self) }
            dt.host = names.hostTemplates[callee].host
            dt.route = names.routeTemplates[Int(rng.below(UInt64(Self.routes.count)))].route
            detail = dt
        }
        return Call(record: c, detail: detail, callee: callee, caller: server ? peer : me, protoIndex: pi, server: server)
    }

    static let routes = ["/v1/items", "/v1/orders", "/v1/users/profile", "/api/cart/checkout", "/healthz", "/v2/search"]

    /// The `k`-th peer of service `s`; with services ≥ 25 never `s` itself (the step 7k + s % 3 + 1 ≤ 24).
    private func neighbour(of s: Int, _ k: Int) -> Int { (s + k * 7 + s % 3) % services + 1 }
    private func cgroup(service s: Int, pod: Int) -> UInt64 { UInt64(100_000 + s * 16 + pod) }
    private func serviceName(_ s: Int) -> String { Self.serviceName(s) }
    static func serviceName(_ s: Int) -> String { String(format: "svc-%03d", s) }
    /// The datacenter (index into `Names.datacenters`) of a service's pod address.
    private func datacenter(_ s: Int) -> Int { podIP(s).1 == 18 ? 0 : 1 }
    /// A service's pod address: datacenter dc1 (198.18/16) for the first half of the hosts, dc2 (198.19/16) else.
    private func podIP(_ s: Int) -> (UInt8, UInt8, UInt8, UInt8) {
        let h = s % hosts
        return (198, h < (hosts + 1) / 2 ? 18 : 19, UInt8(10 + h), UInt8(s))
    }

    private func anchor(_ mono: UInt64, offset: Int64, rng: inout SplitMix64, reason: rl_anchor_reason) -> rl_clock_anchor {
        var a = rl_clock_anchor()
        a.monotonic_ns = mono
        a.realtime_ns = Int64(mono) + offset
        a.boottime_ns = mono
        a.uncertainty_ns = 60 + rng.below(80)
        a.samples = 5
        a.reason = reason.rawValue
        return a
    }

    /// The collector's 10-second housekeeping: counters of the interval, then a clock anchor.
    private func tick(_ w: SegmentWriter, at mono: UInt64, offset: Int64, emitted: inout UInt64,
                      rng: inout SplitMix64, seal: Bool = false) throws {
        var s = rl_stats()
        s.ts_ns = mono
        s.interval_ns = 10_000_000_000
        s.subject = RL_REC_L7_CALL.rawValue
        s.counter = RL_STAT_EVENTS_EMITTED.rawValue
        s.value = emitted
        try w.append(s)
        s.counter = RL_STAT_RINGBUF_DROPPED.rawValue
        s.value = rng.below(8) == 0 ? 1 + rng.below(5) : 0
        try w.append(s)
        emitted = 0
        try w.append(anchor(mono, offset: offset, rng: &rng, reason: seal ? RL_ANCHOR_SEAL : RL_ANCHOR_PERIODIC))
    }

    private func writeMetadata(out: String) throws {
        var yaml = "version: 1\nservices:\n"
        for s in 1...services { yaml += "  - {name: \(serviceName(s)), id: \(s)}\n" }
        try yaml.write(toFile: out + "/metadata/services.yaml", atomically: true, encoding: .utf8)
        let dcs = """
            version: 1
            networks:
              - {cidr: 198.18.0.0/16, datacenter: dc1, zone: dc1-a}
              - {cidr: 198.19.0.0/16, datacenter: dc2, zone: dc2-a}

            """
        try dcs.write(toFile: out + "/metadata/datacenters.yaml", atomically: true, encoding: .utf8)
    }

    /// The Parquet rows: one per call, the values the pipeline derives (corrected time, bucket,
    /// callee name, protocol name, observer) plus the raw measurements.
    static let parquetSchema = ParquetSchema([
        ParquetField("start_utc", .timestampNanos),
        ParquetField("bucket_start", .timestampNanos),
        ParquetField("service", .string),
        ParquetField("protocol", .string),
        ParquetField("observer", .string),
        ParquetField("status_class", .int32),
        ParquetField("duration_ns", .int64),
        ParquetField("request_bytes", .int64),
        ParquetField("response_bytes", .int64),
        // red_edge's further key columns (peer identity: every peer service id is in services.yaml).
        ParquetField("caller", .string),
        ParquetField("callee", .string),
        ParquetField("caller_dc", .string),
        ParquetField("callee_dc", .string),
        ParquetField("peer_identity_source", .string),
    ])

    /// Names as bytes, made once: formatting strings per call would dominate the generator.
    struct Names {
        var services: [[UInt8]]
        /// A detail per service with its `host` field filled, and one per route with `route` filled.
        var hostTemplates: [rl_call_detail]
        var routeTemplates: [rl_call_detail]
        var protocols: [[UInt8]] = BenchPipeline.protocols.map { Array($0.name.utf8) }
        var server = Array("server".utf8), client = Array("client".utf8)
        var datacenters = [Array("dc1".utf8), Array("dc2".utf8)]
        /// `PeerIdentitySource.tcpOption`: every peer service id of the input is in services.yaml.
        var tcpOption = Array("tcp_option".utf8)

        init(services n: Int) {
            services = (0...n).map { Array(BenchPipeline.serviceName($0).utf8) }
            hostTemplates = (0...n).map { s in
                var c = rl_call_detail()
                SyntheticSegments.setString(&c.host, "\(BenchPipeline.serviceName(s)).svc.cluster.local")
                return c
            }
            routeTemplates = BenchPipeline.routes.map { r in
                var c = rl_call_detail()
                SyntheticSegments.setString(&c.route, r)
                return c
            }
        }
    }

    struct Batch {
        var start: [Int64] = [], bucket: [Int64] = [], service = ByteArrays(), proto = ByteArrays(), observer = ByteArrays()
        var status: [Int32] = [], duration: [Int64] = [], req: [Int64] = [], resp: [Int64] = []
        var caller = ByteArrays(), callee = ByteArrays(), callerDC = ByteArrays(), calleeDC = ByteArrays()
        var peerSource = ByteArrays()
        var count: Int { start.count }

        mutating func append(bucket b: Int64, start t: Int64, _ c: Call, names: Names, callerDC cd: Int, calleeDC ed: Int) {
            Self.add(&caller, names.services[c.caller])
            Self.add(&callee, names.services[c.callee])
            Self.add(&callerDC, names.datacenters[cd])
            Self.add(&calleeDC, names.datacenters[ed])
            Self.add(&peerSource, names.tcpOption)
            start.append(t)
            bucket.append(b)
            Self.add(&service, names.services[c.callee])
            Self.add(&proto, names.protocols[c.protoIndex])
            Self.add(&observer, c.server ? names.server : names.client)
            status.append(Int32(c.record.status_class))
            duration.append(Int64(c.record.duration_ns))
            req.append(Int64(c.record.req_bytes))
            resp.append(Int64(c.record.resp_bytes))
        }

        /// `ByteArrays.append(bytes:)` is generic across the module boundary (unspecialised, a
        /// metadata lookup per call); appending the array's bytes here is specialised.
        @inline(__always)
        static func add(_ column: inout ByteArrays, _ value: [UInt8]) {
            column.bytes.append(contentsOf: value)
            column.offsets.append(column.bytes.count)
        }

        func columns() -> [ColumnData] {
            [ColumnData(.int64(start)), ColumnData(.int64(bucket)), ColumnData(.byteArray(service)),
             ColumnData(.byteArray(proto)), ColumnData(.byteArray(observer)), ColumnData(.int32(status)),
             ColumnData(.int64(duration)), ColumnData(.int64(req)), ColumnData(.int64(resp)),
             ColumnData(.byteArray(caller)), ColumnData(.byteArray(callee)), ColumnData(.byteArray(callerDC)),
             ColumnData(.byteArray(calleeDC)), ColumnData(.byteArray(peerSource))]
        }
    }
}
