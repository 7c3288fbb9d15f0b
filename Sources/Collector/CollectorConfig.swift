import Foundation
import KernelProbes
import YAMLConfig
import RedlineBase

/// `redline collect --config FILE`: spec in schemas/collector-config-v1.md.
/// Every field has a safe default except the segment root; validation errors
/// name the file, the line and the field.
public struct CollectorConfig: Sendable, Equatable {
    public static let supportedVersion = 1

    /// Host id used in segment paths and headers (default: the hostname).
    public var host: String
    /// Interface names or globs (`*`, `?`) whose tc ingress/egress get the flow programs.
    public var interfaces: [String]
    /// cgroup v2 directory the sockops program attaches to (identity option); nil = no sockops.
    public var sockopsCgroup: String?
    /// Rules file (schemas/rules-v2.md).
    public var rulesFile: String?
    /// What the kernel programs are told: rate caps and bursts, filters (CIDRs parsed here,
    /// once), flush interval, observed transports, … (`DataPlane.apply`). The runtime fills
    /// in the network namespace; `identityOptionExpected` follows `sockopsCgroup`.
    public var kernel: KernelConfig
    /// Bytes of the kernel → collector ring buffer: a power of two in
    /// `DataPlane.ringBufferBytesRange`, set before the programs load (a reload cannot change it).
    public var ringBufferBytes: Int
    /// cgroup path (below the v2 mount) → service id, for the identity option and records.
    public var services: [ServiceBinding]
    public var segmentRoot: String
    public var windowSeconds: Int
    public var maxSegmentBytes: Int
    /// Sealed segments beyond this total are deleted, oldest first; 0 = no budget.
    public var diskBudgetBytes: Int
    /// Oldest sealed segments are also deleted while the filesystem has less free than this; 0 = no minimum.
    public var minFreeBytes: Int = 0
    /// Mode of segment files (set explicitly, not from the umask).
    public var fileMode: UInt32 = 0o640
    /// Mode of the partition folders the collector creates.
    public var directoryMode: UInt32 = 0o750
    /// The file and the line of fields the runtime checks against the host later
    /// (`interfaces[N]`, `rules`), so those errors point into the file too.
    public var sourceFile: String = ""
    public var lines: [String: Int] = [:]

    /// "FILE:LINE: FIELD" for a field recorded in `lines` (or "FILE: FIELD").
    public func position(of field: String) -> String {
        sourceFile + (lines[field].map { ":\($0)" } ?? "") + ": " + field
    }
    public var anchorIntervalSeconds: Int
    /// A REALTIME−MONOTONIC move beyond this between anchors triggers an extra anchor.
    public var stepThresholdNanos: Int
    public var anchorSamples: Int
    public var metricsFile: String?
    /// Resident-memory cap; above it the collector sheds events (counted).
    public var memoryCapBytes: Int

    public struct ServiceBinding: Sendable, Equatable {
        public var cgroup: String
        public var id: UInt32
    }

    /// Loads a config file; relative paths in it resolve against its folder.
    public static func load(path: String) throws(ConfigError) -> CollectorConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, "config file not found or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError(file: path, "not UTF-8 text") }
        return try parse(yaml: text, file: path, baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    public static func parse(yaml text: String, file: String, baseDirectory: String) throws(ConfigError) -> CollectorConfig {
        let root = try YAMLNode.load(text, file: file)
        try root.requireKeys(in: ["version", "host", "interfaces", "sockops_cgroup", "rules", "filters", "rate_caps",
                                  "ring_buffer_size", "services", "segments", "clock", "metrics_file", "memory_cap", "kernel"])
        let v = try root.required("version")
        guard try v.int() == supportedVersion else {
            throw v.fail("unsupported collector config version \(try v.string()); this Redline reads version \(supportedVersion)")
        }
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardized.path
        }

        var host = ProcessInfo.processInfo.hostName
        if let h = root["host"] {
            host = try h.string()
            guard !host.isEmpty, host.utf8.count <= 64,
                  host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else {
                throw h.fail("host ids are 1-64 characters of letters, digits, '-', '.', '_' (they name folders)")
            }
        }
        let interfaces = try root["interfaces"]?.sequence().map { (n: YAMLNode) throws(ConfigError) -> String in
            let s = try n.string()
            guard !s.isEmpty, s.utf8.count < 16 || s.contains("*") else { throw n.fail("'\(s)' is not an interface name or glob") }
            return s
        } ?? []

        var kernel = KernelConfig()
        if let f = root["filters"] {
            for n in try f.sequence() { kernel.filters.append(try filter(n)) }
        }
        if let c = root["rate_caps"] {
            kernel.rateCaps = try perRecordKind(c, kernel.rateCaps, "events per second per CPU, 0 (no cap) to 100000000")
        }
        if let k = root["kernel"] {
            try k.requireKeys(in: ["flush_interval_ms", "rate_bursts", "ring_wakeup_every", "observe", "drop_reason_min", "l7_max_misses"])
            kernel.flushIntervalNanos = UInt64(try int(k["flush_interval_ms"], 1...3_600_000, 1000)) * 1_000_000
            if let b = k["rate_bursts"] {
                kernel.rateBursts = try perRecordKind(b, kernel.rateBursts, "records, 0 (one second of the rate) to 100000000")
            }
            kernel.ringWakeupEvery = UInt64(try int(k["ring_wakeup_every"], 1...65_536, 64))
            if let o = k["observe"] {
                let names = try o.sequence().map { (n: YAMLNode) throws(ConfigError) -> String in
                    let s = try n.string()
                    guard s == "tcp" || s == "udp" else { throw n.fail("expected tcp or udp") }
                    return s
                }
                guard !names.isEmpty else { throw o.fail("name tcp, udp or both") }
                kernel.observeTCP = names.contains("tcp")
                kernel.observeUDP = names.contains("udp")
            }
            kernel.dropReasonMin = UInt64(try int(k["drop_reason_min"], 0...65_535, 2))
            kernel.l7MaxMisses = UInt64(try int(k["l7_max_misses"], 1...255, 8))
        }

        let ringBytes = try size(root["ring_buffer_size"], DataPlane.ringBufferBytesRange, DataPlane.defaultRingBufferBytes)
        if let r = root["ring_buffer_size"], ringBytes & (ringBytes - 1) != 0 {
            throw r.fail("must be a power of two (256KiB, 512KiB, 1MiB, ... 1GiB)")
        }

        var services: [ServiceBinding] = []
        if let s = root["services"] {
            var seen: Set<String> = []
            for n in try s.sequence() {
                try n.requireKeys(in: ["cgroup", "id"])
                let cg = try n.required("cgroup")
                let path = try cg.string()
                guard path.hasPrefix("/") else { throw cg.fail("a cgroup path below the v2 mount, starting with '/'") }
                guard seen.insert(path).inserted else { throw cg.fail("cgroup '\(path)' is bound twice") }
                let idNode = try n.required("id")
                let id = try idNode.int()
                guard (1...Int(UInt32.max)).contains(id) else { throw idNode.fail("must be in 1...\(UInt32.max)") }
                services.append(ServiceBinding(cgroup: path, id: UInt32(id)))
            }
        }

        let seg = try root.required("segments")
        try seg.requireKeys(in: ["root", "window_seconds", "max_segment_size", "disk_budget", "min_free", "file_mode", "dir_mode"])
        let segmentRoot = resolve(try seg.required("root").string())
        let window = try int(seg["window_seconds"], 1...3600, 60)
        if let w = seg["window_seconds"], 3600 % window != 0 { throw w.fail("must divide 3600 so windows align with hours") }
        let maxSeg = try size(seg["max_segment_size"], (1 << 16)...(1 << 34), 256 << 20)
        let budget = try size(seg["disk_budget"], 0...(1 << 50), 0)
        let minFree = try size(seg["min_free"], 0...(1 << 50), 0)
        let fileMode = try seg["file_mode"]?.permissionMode() ?? 0o640
        let dirMode = try seg["dir_mode"]?.permissionMode() ?? 0o750

        var anchorInterval = 10, stepNs = 1_000_000, samples = 7
        if let c = root["clock"] {
            try c.requireKeys(in: ["anchor_interval_seconds", "step_threshold_ns", "samples"])
            anchorInterval = try int(c["anchor_interval_seconds"], 1...3600, 10)
            stepNs = try int(c["step_threshold_ns"], 1000...1_000_000_000, 1_000_000)
            samples = try int(c["samples"], 1...1000, 7)
        }
        let sockopsCgroup = try root["sockops_cgroup"]?.string()
        kernel.identityOptionExpected = sockopsCgroup != nil
        var config = CollectorConfig(
            host: host, interfaces: interfaces,
            sockopsCgroup: sockopsCgroup,
            rulesFile: try root["rules"].map { (n: YAMLNode) throws(ConfigError) in resolve(try n.string()) },
            kernel: kernel, ringBufferBytes: ringBytes, services: services, segmentRoot: segmentRoot, windowSeconds: window,
            maxSegmentBytes: maxSeg, diskBudgetBytes: budget, anchorIntervalSeconds: anchorInterval,
            stepThresholdNanos: stepNs, anchorSamples: samples,
            metricsFile: try root["metrics_file"].map { (n: YAMLNode) throws(ConfigError) in resolve(try n.string()) },
            memoryCapBytes: try size(root["memory_cap"], (8 << 20)...(1 << 40), 64 << 20))
        config.sourceFile = file
        for (i, n) in (try root["interfaces"]?.sequence() ?? []).enumerated() { config.lines["interfaces[\(i)]"] = n.line }
        config.lines["rules"] = root["rules"]?.line
        config.minFreeBytes = minFree
        config.fileMode = fileMode
        config.directoryMode = dirMode
        return config
    }

    /// One filter entry: an action and exactly one dimension.
    private static func filter(_ n: YAMLNode) throws(ConfigError) -> KernelConfig.Filter {
        try n.requireKeys(in: ["action", "cidr", "port", "protocol", "src_classid", "dst_classid", "l7"])
        let a = try n.required("action")
        guard let action = KernelConfig.Filter.Action(rawValue: try a.string()) else { throw a.fail("expected allow or deny") }
        // The kernel keeps one map per dimension (schemas/collector-config-v1.md), so an
        // entry names exactly one: cidr, port (with an optional protocol), a classid, or l7.
        let dimensions = [n["cidr"] != nil, n["port"] != nil || n["protocol"] != nil, n["src_classid"] != nil,
                          n["dst_classid"] != nil, n["l7"] != nil].filter { $0 }.count
        guard dimensions == 1 else {
            throw n.fail(dimensions == 0
                ? "a filter needs one of cidr, port (+ protocol), src_classid, dst_classid, l7"
                : "a filter names one dimension: cidr, port (+ protocol), src_classid, dst_classid or l7; write one entry per dimension")
        }
        if let c = n["cidr"] {
            let text = try c.string()
            guard let block = CIDR(text) else { throw c.fail("'\(text)' is not a CIDR block (e.g. 198.18.0.0/15)") }
            if block.hasHostBits { throw c.fail("'\(text)' has host bits set; the block is \(block.network)") }
            return .cidr(block, action)
        }
        if n["protocol"] != nil && n["port"] == nil { throw n.fail("protocol goes with a port") }
        if let p = n["port"] {
            let port = try p.int()
            guard (1...65535).contains(port) else { throw p.fail("must be in 1...65535") }
            var l4: UInt8?
            if let pr = n["protocol"] {
                let name = try pr.string()
                guard let id: UInt8 = ["tcp": 6, "udp": 17][name] else { throw pr.fail("expected tcp or udp") }
                l4 = id
            }
            return .port(UInt16(port), l4Proto: l4, action)
        }
        if let c = n["src_classid"] { return .classid(try classID(c), source: true, action) }
        if let c = n["dst_classid"] { return .classid(try classID(c), source: false, action) }
        let l = try n.required("l7")
        let name = try l.string()
        guard action == .deny else { throw n.fail("l7 filters can only deny (calls of that protocol are not reported)") }
        guard let id = L7Protocol.id(named: name) else {
            throw n.fail("unknown l7 protocol '\(name)' (known: \(L7Protocol.nameable.joined(separator: ", ")))")
        }
        return .l7Deny(id)
    }

    /// `{flow_delta, l7_call, tcp_event}`, each 0…100000000, missing ones from `defaults`.
    private static func perRecordKind(_ c: YAMLNode, _ defaults: KernelConfig.PerRecordKind,
                                      _ meaning: String) throws(ConfigError) -> KernelConfig.PerRecordKind {
        try c.requireKeys(in: ["flow_delta", "l7_call", "tcp_event"])
        func value(_ k: String, _ d: UInt64) throws(ConfigError) -> UInt64 {
            guard let n = c[k] else { return d }
            let x = try n.int()
            guard (0...100_000_000).contains(x) else { throw n.fail(meaning) }
            return UInt64(x)
        }
        return .init(flowDelta: try value("flow_delta", defaults.flowDelta), l7Call: try value("l7_call", defaults.l7Call),
                     tcpEvent: try value("tcp_event", defaults.tcpEvent))
    }

    private static func int(_ n: YAMLNode?, _ range: ClosedRange<Int>, _ def: Int) throws(ConfigError) -> Int {
        guard let n else { return def }
        let x = try n.int()
        guard range.contains(x) else { throw n.fail("must be in \(range.lowerBound)...\(range.upperBound)") }
        return x
    }

    /// A byte size: an integer, or a number with KiB/MiB/GiB/TiB (or KB/MB/GB/TB, powers of 1000).
    static func size(_ n: YAMLNode?, _ range: ClosedRange<Int>, _ def: Int) throws(ConfigError) -> Int {
        guard let n else { return def }
        let s = try n.string().trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
                                      ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1)]
        var value: Int?
        if let v = Int(s) { value = v }
        for (u, m) in units where value == nil && s.hasSuffix(u) {
            if let v = Int(s.dropLast(u.count).trimmingCharacters(in: .whitespaces)) {
                let (r, o) = v.multipliedReportingOverflow(by: m)
                value = o ? nil : r
            }
        }
        guard let value else { throw n.fail("'\(s)' is not a size (e.g. 67108864, 64MiB, 10GiB)") }
        guard range.contains(value) else { throw n.fail("must be between \(range.lowerBound) and \(range.upperBound) bytes") }
        return value
    }

    private static func classID(_ n: YAMLNode) throws(ConfigError) -> UInt32 {
        // net_cls classids are written MAJOR:MINOR in hex (tc notation) or as a number.
        let s = try n.string()
        let parts = s.split(separator: ":")
        if parts.count == 2, let major = UInt32(parts[0], radix: 16), let minor = UInt32(parts[1], radix: 16),
           major <= 0xFFFF, minor <= 0xFFFF {
            return major << 16 | minor
        }
        if let v = UInt32(s) { return v }
        throw n.fail("'\(s)' is not a classid (MAJOR:MINOR in hex, e.g. 10:1, or a number)")
    }
}
