import CLibBPF
import Glibc

/// A tc clsact direction.
public enum TCDirection: Sendable {
    case ingress, egress
}

/// A direct-action cls_bpf filter a program was attached with. `detach()`
/// removes exactly that filter, and the clsact qdisc only if this attachment
/// created it — so detaching leaves the interface as it was found.
/// Destroying clsact removes both directions' filters, so detach the other
/// direction first (`Attachments` orders this).
public final class TCAttachment {
    /// Interface name, and its network namespace path (nil: the caller's).
    public let interface: String
    public let netns: String?
    public let direction: TCDirection
    /// Whether attaching created the clsact qdisc.
    public let createdHook: Bool
    let ifindex: Int32
    let handle: UInt32
    let priority: UInt32
    let program: Program
    private(set) var attached = true

    /// Attaches `program` (a SEC("tc") program) at `direction` of `interface`
    /// in `netns` (a path such as /run/netns/NAME; nil: the caller's).
    public init(program: Program, interface: String, direction: TCDirection, netns: String? = nil) throws {
        self.program = program
        self.interface = interface
        self.netns = netns
        self.direction = direction
        var ifindex: Int32 = 0
        var handle: UInt32 = 0
        var priority: UInt32 = 0
        var created: Int32 = 0
        LibBPFMessages.begin()
        let ret = clibbpf_tc_attach(
            netns, interface, direction == .ingress ? 1 : 0, program.fd, &ifindex, &handle, &priority, &created)
        guard ret == 0 else {
            throw KernelProbeError.classify(.attachFailed(
                what: "tc \(direction) \(interface)\(netns.map { " in \($0)" } ?? "")", errno: -ret,
                libbpfLog: LibBPFMessages.text))
        }
        self.ifindex = ifindex
        self.handle = handle
        self.priority = priority
        createdHook = created != 0
    }

    /// Removes the filter (and the clsact qdisc when `destroyHook` and this
    /// attachment created it). Idempotent.
    public func detach(destroyHook: Bool = true) throws {
        guard attached else { return }
        let ret = clibbpf_tc_detach(
            netns, ifindex, direction == .ingress ? 1 : 0, handle, priority, destroyHook && createdHook ? 1 : 0)
        attached = false
        // ENOENT/ENODEV: the interface or its namespace is already gone, nothing left to undo.
        if ret != 0 && -ret != ENOENT && -ret != ENODEV && -ret != EINVAL {
            throw KernelProbeError.detachFailed(what: "tc \(direction) \(interface)", errno: -ret)
        }
    }

    deinit { try? detach() }
}

/// A direct-action cls_bpf filter found on a clsact hook.
public struct TCFilter: Sendable, Equatable {
    public let handle: UInt32
    /// tc's "pref".
    public let priority: UInt32
    public let programID: UInt32
    /// The program's own name (at most 15 bytes), "" if it could not be read.
    public let programName: String
}

extension TCAttachment {
    /// The cls_bpf filters on `direction` of `interface` in `netns` (nil: the caller's),
    /// listed with one rtnetlink dump; none without a clsact hook.
    public static func filters(interface: String, direction: TCDirection, netns: String? = nil) throws -> [TCFilter] {
        try list(interface: interface, direction: direction, netns: netns).filters
    }

    /// Removes the filters on `direction` of `interface` whose program is named one of
    /// `programNames`, and returns them: what a collector that did not stop cleanly left
    /// behind (they keep their programs alive and would count every packet a second time).
    /// Filters of other programs are left alone, and so is the clsact hook.
    public static func removeFilters(ofProgramsNamed programNames: Set<String>, interface: String, direction: TCDirection,
                                     netns: String? = nil) throws -> [TCFilter] {
        let (ifindex, all) = try list(interface: interface, direction: direction, netns: netns)
        let stale = all.filter { programNames.contains($0.programName) }
        for f in stale {
            let ret = clibbpf_tc_detach(netns, ifindex, direction == .ingress ? 1 : 0, f.handle, f.priority, 0)
            // ENOENT: gone meanwhile (another cleanup, the interface removed).
            if ret != 0 && -ret != ENOENT {
                throw KernelProbeError.detachFailed(what: "stale tc \(direction) \(interface) pref \(f.priority)", errno: -ret)
            }
        }
        return stale
    }

    private static func list(interface: String, direction: TCDirection, netns: String?) throws -> (ifindex: Int32, filters: [TCFilter]) {
        let max = 256
        var raw = [clibbpf_tc_filter](repeating: clibbpf_tc_filter(), count: max)
        var ifindex: Int32 = 0
        let n = clibbpf_tc_list(netns, interface, direction == .ingress ? 1 : 0, &raw, Int32(max), &ifindex)
        guard n >= 0 else {
            throw KernelProbeError.listFailed(what: "tc \(direction) filters of \(interface)", errno: -n)
        }
        let filters = raw.prefix(Int(n)).map { f in
            TCFilter(handle: f.handle, priority: f.priority, programID: f.prog_id,
                     programName: withUnsafeBytes(of: f.prog_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return (ifindex, filters)
    }
}

/// A libbpf link (tracepoint, cgroup sockops, ...). Destroying it detaches.
public final class Link {
    private var link: OpaquePointer?
    /// What it attaches, for messages.
    public let what: String
    let program: Program

    init(link: OpaquePointer, what: String, program: Program) {
        self.link = link
        self.what = what
        self.program = program
    }

    /// Attaches a program whose section names its hook (tp_btf/..., tracepoint/...)
    /// (`bpf_program__attach`).
    public static func attach(_ program: Program) throws -> Link {
        LibBPFMessages.begin()
        guard let l = bpf_program__attach(program.handle), libbpf_get_error(UnsafeRawPointer(l)) == 0 else {
            throw KernelProbeError.classify(.attachFailed(what: program.name, errno: errno, libbpfLog: LibBPFMessages.text))
        }
        return Link(link: l, what: program.name, program: program)
    }

    /// Attaches a sockops (or other cgroup) program to the cgroup v2 directory at
    /// `cgroupPath` (`bpf_program__attach_cgroup`).
    public static func attachCgroup(_ program: Program, cgroupPath: String) throws -> Link {
        let fd = open(cgroupPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw KernelProbeError.fileOpen(path: cgroupPath, errno: errno) }
        defer { close(fd) }
        LibBPFMessages.begin()
        guard let l = bpf_program__attach_cgroup(program.handle, fd), libbpf_get_error(UnsafeRawPointer(l)) == 0 else {
            throw KernelProbeError.classify(.attachFailed(
                what: "\(program.name) on cgroup \(cgroupPath)", errno: errno, libbpfLog: LibBPFMessages.text))
        }
        return Link(link: l, what: "\(program.name) on \(cgroupPath)", program: program)
    }

    /// Detaches now (`bpf_link__destroy`). Idempotent.
    public func detach() {
        if let link { bpf_link__destroy(link) }
        link = nil
    }

    deinit { detach() }
}

/// Everything one user attached, detached in reverse order so clsact hooks are
/// destroyed only after every filter on them is gone.
public final class Attachments {
    private var tc: [TCAttachment] = []
    private var links: [Link] = []

    public init() {}

    public func add(_ a: TCAttachment) { tc.append(a) }
    public func add(_ l: Link) { links.append(l) }

    /// Detaches everything: links, then tc filters, then the hooks this set created.
    public func detachAll() throws {
        for l in links.reversed() { l.detach() }
        links.removeAll()
        var firstError: Error?
        for a in tc.reversed() {
            do { try a.detach(destroyHook: false) } catch { firstError = firstError ?? error }
        }
        for a in tc where a.createdHook {
            let ret = clibbpf_tc_hook_destroy(a.netns, a.ifindex)
            if ret != 0 && -ret != ENOENT && -ret != ENODEV && -ret != EINVAL && firstError == nil {
                firstError = KernelProbeError.detachFailed(what: "clsact on \(a.interface)", errno: -ret)
            }
        }
        tc.removeAll()
        if let firstError { throw firstError }
    }

    deinit { try? detachAll() }
}
