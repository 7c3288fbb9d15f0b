import Foundation
import KernelProbes

/// One line of `redline doctor`: a feature the collector uses, whether this host
/// has it, and what its absence costs.
public struct ReadinessCheck: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case ok, missing, skipped }

    /// Short name, e.g. `tcx`, `sockops header options`, `CAP_BPF`.
    public var feature: String
    public var status: Status
    /// True when the collector cannot run without it (a miss makes doctor exit 1).
    public var required: Bool
    /// What was probed and what it found (errno, path, bytes free).
    public var detail: String
    /// What a miss means for the collector, e.g. "no peer identity".
    public var consequence: String
}

/// Checks a host before rollout with the collector's own probes (`FeatureProbe`,
/// `DataPlane`, `Capability.collectorNeeds`): the same loads and attaches
/// `redline collect` does, undone at once.
public enum Readiness {
    /// What to check against.
    public struct Target: Sendable {
        /// The BPF object the collector would load; nil when none was found.
        public var objectPath: String?
        /// The collector configuration, when one was given (sockops becomes required when it names a cgroup).
        public var config: CollectorConfig?
        /// The segment root whose free space to check (the config's when nil).
        public var segmentRoot: String?

        public init(objectPath: String?, config: CollectorConfig?, segmentRoot: String?) {
            self.objectPath = objectPath
            self.config = config
            self.segmentRoot = segmentRoot
        }
    }

    /// Free bytes the segment root's filesystem must have: room to seal two full segments.
    public static func minimumFreeBytes(maxSegmentBytes: Int) -> UInt64 { UInt64(maxSegmentBytes) * 2 }

    /// Runs every check, in the order `redline doctor` prints them.
    public static func run(_ target: Target) -> [ReadinessCheck] {
        var out: [ReadinessCheck] = []
        func add(_ feature: String, required: Bool, consequence: String, _ probe: () throws -> String) {
            do {
                out.append(.init(feature: feature, status: .ok, required: required, detail: try probe(), consequence: ""))
            } catch {
                out.append(.init(feature: feature, status: .missing, required: required, detail: summary(error),
                                 consequence: consequence))
            }
        }

        let caps = Capability.effective()
        for c in Capability.collectorNeeds {
            add(c.name, required: true, consequence: "the collector cannot load or attach its programs") {
                guard caps.contains(c) else { throw Missing("not in this process's effective set") }
                return "in the effective set"
            }
        }
        add(Capability.sysAdmin.name, required: false,
            consequence: "not needed by the collector; doctor probes tc on lo of this namespace instead of a scratch one") {
            guard caps.contains(.sysAdmin) else { throw Missing("not in the effective set") }
            return "in the effective set (used only by doctor, for a scratch network namespace)"
        }

        add("BTF", required: true, consequence: "no CO-RE: the programs cannot be relocated to this kernel") {
            try FeatureProbe.btf()
        }
        add("ring buffer", required: true, consequence: "no way to get events to user space") {
            try FeatureProbe.ringBuffer()
        }
        add("sk_storage", required: true, consequence: "the tc programs keep per-socket state there: they cannot load") {
            try FeatureProbe.socketStorage()
        }
        add("BPF object", required: true, consequence: "nothing to load: install the package or run tools/build-bpf") {
            guard let p = target.objectPath else { throw Missing("redline.bpf.o not found (--bpf-object, $REDLINE_BPF_OBJECT)") }
            return p
        }

        let cgroupMount = CgroupResolver.findUnifiedMount()
        add("cgroup v2", required: true, consequence: "no cgroup ids: no pod or service mapping, no sockops") {
            guard let m = cgroupMount else { throw Missing("no cgroup2 mount in /proc/self/mountinfo") }
            return "mounted at \(m)"
        }
        add("bpffs", required: false, consequence: "none today: Redline pins nothing; only for inspecting pinned objects by hand") {
            guard let m = mountPoint(ofType: "bpf") else { throw Missing("no bpf mount in /proc/self/mountinfo") }
            return "mounted at \(m)"
        }

        if let object = target.objectPath {
            let ns = FeatureProbe.ScratchNamespace()
            add("tc clsact", required: true, consequence: "no flow accounting, no L7 calls") {
                try FeatureProbe.tcClsact(objectPath: object, in: ns)
            }
            add("tcx", required: false, consequence: "no tcx: the collector uses cls_bpf on clsact (it does today on every kernel)") {
                try FeatureProbe.tcx(objectPath: object, in: ns)
            }
            let identityRequired = target.config?.sockopsCgroup != nil
            add("sockops header options", required: identityRequired, consequence: "no sockops header options: no peer identity") {
                try FeatureProbe.sockops(objectPath: object, cgroupMount: cgroupMount)
            }
            let tracepoints: [(DataPlane.ProgramName, String)] = [
                (.retransmit, "tcp_retransmit_skb"), (.sendReset, "tcp_send_reset"),
                (.receiveReset, "tcp_receive_reset"), (.kfreeSkb, "kfree_skb"),
            ]
            for (program, name) in tracepoints {
                add("tracepoint \(name)", required: true, consequence: "the collector attaches it at start: it would not start") {
                    try FeatureProbe.tracepoint(program, objectPath: object)
                }
            }
        }

        if let config = target.config, !config.interfaces.isEmpty {
            add("interfaces", required: true, consequence: "the collector refuses to start (a pattern matches nothing)") {
                do {
                    return "tc attaches on " + (try CollectorRuntime.matchingInterfaces(config)).joined(separator: ", ")
                } catch {
                    throw Missing("\(error)")
                }
            }
        }

        let maxSegment = target.config?.maxSegmentBytes ?? 256 << 20
        if let root = target.segmentRoot ?? target.config?.segmentRoot {
            let need = minimumFreeBytes(maxSegmentBytes: maxSegment)
            add("free disk", required: true, consequence: "segments cannot be sealed: events are lost") {
                guard let (dir, free) = freeBytes(near: root) else { throw Missing("cannot statvfs \(root) or any parent") }
                let text = "\(mib(free)) free at \(dir) (needs \(mib(need)): two segments of \(mib(UInt64(maxSegment))))"
                guard free >= need else { throw Missing(text) }
                return text
            }
        } else {
            out.append(.init(feature: "free disk", status: .skipped, required: false,
                             detail: "no segment root: pass --segments DIR or --config FILE", consequence: ""))
        }
        return out
    }

    /// A check that failed without a kernel error.
    struct Missing: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// The first line of an error (a verifier log follows it for load failures).
    static func summary(_ e: Error) -> String {
        String(describing: e).split(separator: "\n").first.map(String.init) ?? "\(e)"
    }

    static func mib(_ bytes: UInt64) -> String { "\(bytes >> 20) MiB" }

    /// The mount point of the first mount of `fstype` in /proc/self/mountinfo.
    static func mountPoint(ofType fstype: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard let dash = f.firstIndex(of: "-"), dash + 1 < f.count, f[dash + 1] == fstype, f.count > 4 else { continue }
            return String(f[4])
        }
        return nil
    }

    /// Free bytes (for an unprivileged writer) of the filesystem holding `path`, or of its
    /// nearest existing parent when the folder is not made yet.
    static func freeBytes(near path: String) -> (String, UInt64)? {
        var dir = path
        while true {
            var s = statvfs()
            if statvfs(dir, &s) == 0 { return (dir, UInt64(s.f_bavail) * UInt64(s.f_frsize)) }
            let parent = (dir as NSString).deletingLastPathComponent
            if parent == dir || parent.isEmpty { return nil }
            dir = parent
        }
    }
}
