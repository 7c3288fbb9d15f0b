import CLibBPF
import Glibc

/// A Linux capability the collector (or a probe) may need; raw values are
/// linux/capability.h's bit numbers.
public enum Capability: Int, CaseIterable, Sendable {
    case netAdmin = 12, sysAdmin = 21, sysResource = 24, perfmon = 38, bpf = 39

    /// The name systemd units and `capsh` use, e.g. `CAP_BPF`.
    public var name: String {
        switch self {
        case .netAdmin: "CAP_NET_ADMIN"
        case .sysAdmin: "CAP_SYS_ADMIN"
        case .sysResource: "CAP_SYS_RESOURCE"
        case .perfmon: "CAP_PERFMON"
        case .bpf: "CAP_BPF"
        }
    }

    /// What the collector needs, and why (checked by `redline collect` at start and by
    /// `redline doctor`; the systemd unit grants exactly these):
    /// - CAP_BPF: create maps, load programs, BTF;
    /// - CAP_PERFMON: tracing programs (`tp_btf`) and the kernel-pointer reads (CO-RE,
    ///   `bpf_skc_to_tcp_sock`) the tc and sockops programs do;
    /// - CAP_NET_ADMIN: the tc (sched_cls) and sockops program types, tc filters and
    ///   clsact qdiscs, attaching sockops to a cgroup.
    /// CAP_SYS_ADMIN is not needed (kernel ≥ 5.8 split it into the three above); nor is
    /// CAP_SYS_RESOURCE (kernel ≥ 5.11 charges BPF memory to the cgroup, not RLIMIT_MEMLOCK).
    public static let collectorNeeds: [Capability] = [.bpf, .perfmon, .netAdmin]

    /// The calling process's effective capabilities (`CapEff` in /proc/self/status).
    public static func effective() -> Set<Capability> {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let bits = UInt64(String(line.dropFirst("CapEff:".count).filter { !$0.isWhitespace }), radix: 16)
        else { return [] }
        return Set(allCases.filter { bits & (1 << UInt64($0.rawValue)) != 0 })
    }
}

/// Probes of what this kernel allows, for `redline doctor`. Each loads or creates
/// the real thing — the collector's own programs from its object through
/// `DataPlane`, maps through libbpf's map probes — and undoes it before
/// returning: nothing stays attached, pinned or loaded. A missing feature
/// throws `KernelProbeError.notSupported` (or the load/attach error as the
/// collector would see it); success returns a short note on what was tried.
public enum FeatureProbe {
    /// Kernel BTF, which CO-RE relocations need.
    public static func btf() throws(KernelProbeError) -> String {
        let path = "/sys/kernel/btf/vmlinux"
        guard access(path, R_OK) == 0 else {
            throw .notSupported(what: "kernel BTF at \(path)", errno: errno, detail: "kernel built without CONFIG_DEBUG_INFO_BTF")
        }
        return path
    }

    /// BPF ring buffers (`rl_events`): creates and closes a small one.
    public static func ringBuffer() throws(KernelProbeError) -> String {
        try mapType(BPF_MAP_TYPE_RINGBUF, name: "BPF ring buffer")
    }

    /// Socket-local storage (`rl_sk_state`): creates and closes a small map (with its BTF).
    public static func socketStorage() throws(KernelProbeError) -> String {
        try mapType(BPF_MAP_TYPE_SK_STORAGE, name: "socket-local storage")
    }

    /// Creates (and closes) a small map of `type` (`libbpf_probe_bpf_map_type`).
    static func mapType(_ type: bpf_map_type, name: String) throws(KernelProbeError) -> String {
        LibBPFMessages.begin()
        let r = libbpf_probe_bpf_map_type(type, nil)
        if r == 1 { return "created a \(name) map" }
        let e: Int32 = r == 0 ? EOPNOTSUPP : -r
        throw .notSupported(what: "\(name) maps", errno: e, detail: LibBPFMessages.text)
    }

    /// A scratch network namespace for attach probes, freed when this goes away.
    /// Without CAP_SYS_ADMIN no namespace can be made; probes then use `lo` of the
    /// caller's namespace and detach at once.
    public final class ScratchNamespace {
        let fd: Int32
        /// The netns path to hand to attach calls (nil: the caller's namespace).
        public let path: String?

        public init() {
            let r = clibbpf_private_netns()
            fd = r
            path = r >= 0 ? "/proc/self/fd/\(r)" : nil
        }

        /// Where probes attach, for messages.
        public var label: String { path == nil ? "lo of this network namespace" : "lo of a scratch network namespace" }

        deinit { if fd >= 0 { close(fd) } }
    }

    /// Loads the collector's tc programs and attaches them at ingress and egress
    /// (clsact + direct-action cls_bpf, as the collector does), then detaches.
    public static func tcClsact(objectPath: String, in ns: ScratchNamespace) throws -> String {
        let plane = try DataPlane(objectPath: objectPath, programs: [.tcEgress, .tcIngress])
        let attached = Attachments()
        attached.add(try TCAttachment(program: plane.program(.tcEgress), interface: "lo", direction: .egress, netns: ns.path))
        attached.add(try TCAttachment(program: plane.program(.tcIngress), interface: "lo", direction: .ingress, netns: ns.path))
        try attached.detachAll()
        return "rl_tc_egress/rl_tc_ingress loaded, attached on \(ns.label) and detached"
    }

    /// Attaches the collector's ingress program through a tcx link and closes it.
    public static func tcx(objectPath: String, in ns: ScratchNamespace) throws -> String {
        let plane = try DataPlane(objectPath: objectPath, programs: [.tcIngress])
        let r = clibbpf_tcx_probe(ns.path, "lo", try plane.program(.tcIngress).fd)
        guard r == 0 else {
            // An unknown attach type is EINVAL on kernels before tcx (6.6).
            let e = -r
            if e == EINVAL || e == EOPNOTSUPP || e == 524 {
                throw KernelProbeError.notSupported(what: "tcx links", errno: e, detail: "bpf_link_create(BPF_TCX_INGRESS)")
            }
            throw KernelProbeError.attachFailed(what: "tcx ingress on \(ns.label)", errno: e, libbpfLog: "")
        }
        return "tcx ingress link created on \(ns.label) and closed"
    }

    /// Loads the identity sockops program (header-option helpers) and, when a
    /// scratch cgroup can be made under `cgroupMount`, attaches it there and detaches.
    public static func sockops(objectPath: String, cgroupMount: String?) throws -> String {
        let plane = try DataPlane(objectPath: objectPath, programs: [.sockops])
        guard let mount = cgroupMount else { return "rl_sockops loaded (no cgroup v2 mount to attach to)" }
        let scratch = "\(mount)/redline-doctor-\(getpid())"
        guard mkdir(scratch, 0o755) == 0 else {
            return "rl_sockops loaded; attach not tried (cannot create \(scratch): \(String(cString: strerror(errno))))"
        }
        defer { rmdir(scratch) }
        let link = try Link.attachCgroup(plane.program(.sockops), cgroupPath: scratch)
        link.detach()
        return "rl_sockops loaded, attached to a scratch cgroup and detached"
    }

    /// Loads one tracepoint program and attaches it, then detaches.
    public static func tracepoint(_ program: DataPlane.ProgramName, objectPath: String) throws -> String {
        let plane = try DataPlane(objectPath: objectPath, programs: [program])
        let link = try Link.attach(plane.program(program))
        link.detach()
        return "\(program.rawValue) loaded, attached and detached"
    }
}
